"""The validator's fast pass (day15_conforms) against its field-by-field check (day15_check_fields): never laxer, and
every value a JSON body can hold gets a 400 naming the field, never an exception of another kind."""
import copy
import random

import pytest

from day15_EVENTS_validation import (DAY15_CREATED_MAX, DAY15_CREATED_MIN, DAY15_MAX_ID_CHARS, DAY15_MAX_INTERVAL_COUNT,
                                     DAY15_MAX_ITEMS, DAY15_MAX_QUANTITY, DAY15_MAX_UNIT_AMOUNT, day15_check_fields, day15_conforms,
                                     day15_InvalidEvent, day15_validate_event)

ODD_VALUES = [None, True, False, 0, -1, 1, 1.5, "", "x", "a\x00b", "a\x7fb", "a\u00a0b", "é", "x" * DAY15_MAX_ID_CHARS,
              "x" * (DAY15_MAX_ID_CHARS + 1), [], ["usd"], {}, {"a": 1}, DAY15_CREATED_MIN - 1, DAY15_CREATED_MIN,
              DAY15_CREATED_MAX - 1, DAY15_CREATED_MAX, DAY15_MAX_UNIT_AMOUNT, DAY15_MAX_UNIT_AMOUNT + 1, DAY15_MAX_QUANTITY,
              DAY15_MAX_QUANTITY + 1, DAY15_MAX_INTERVAL_COUNT, DAY15_MAX_INTERVAL_COUNT + 1, 2**70, "usd", "month", "day",
              "active", "customer.created", "customer.subscription.created", "user.activity", "user.signed_up",
              [{"quantity": 1}] * (DAY15_MAX_ITEMS + 1)]


def _paths(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for key, child in value.items():
            yield from _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for n, child in enumerate(value):
            yield from _paths(child, (*prefix, n))


def _replace(event, path, value):
    event = copy.deepcopy(event)
    target = event
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return event


def _check_accepts(event) -> bool:
    try:
        day15_check_fields(event)
    except day15_InvalidEvent:
        return False
    return True


def test_the_fast_pass_never_accepts_what_the_field_checks_refuse(saas_events):
    events, _, _ = saas_events
    rng = random.Random(15)
    samples = {e["type"]: e for e in events}  # one event of every type
    checked = 0
    for event in samples.values():
        for path in [p for p in _paths(event) if p]:
            for value in ODD_VALUES:
                mutated = _replace(event, path, value)
                assert not day15_conforms(mutated) or _check_accepts(mutated), (path, value)
                checked += 1
            del_target = _replace(event, path, None)
            assert not day15_conforms(del_target) or _check_accepts(del_target)
    for _ in range(2000):  # several fields off at once
        event = rng.choice(list(samples.values()))
        for _ in range(rng.randint(2, 4)):
            path = rng.choice([p for p in _paths(event) if p])
            event = _replace(event, path, rng.choice(ODD_VALUES))
        assert not day15_conforms(event) or _check_accepts(event)
    assert checked > 1000
    assert all(day15_conforms(e) for e in events)  # the generated traffic takes the fast pass


def test_a_huge_but_bounded_subscription_is_judged_exactly():
    item = {"quantity": 100, "price": {"unit_amount": 3_000_000, "currency": "usd",  # 3e8 x 31 > the cap; exact MRR is 3e8
                                       "recurring": {"interval": "month", "interval_count": 1}}}
    event = {"id": "evt_1", "type": "customer.subscription.created", "created": 1_700_000_000,
             "data": {"object": {"id": "sub_1", "customer": "cus_1", "status": "active", "items": {"data": [item]}}}}
    assert day15_validate_event(event) is event
    item["quantity"] = 100_000  # 3e11 cents a month: above the cap
    with pytest.raises(day15_InvalidEvent) as info:
        day15_validate_event(event)
    assert info.value.field == "data.object.items"


@pytest.mark.parametrize("field", ["status", "currency", "interval"])
def test_a_list_or_object_where_a_code_belongs_is_a_named_invalid_field(field):
    item = {"quantity": 1, "price": {"unit_amount": 100, "currency": "usd", "recurring": {"interval": "month", "interval_count": 1}}}
    obj = {"id": "sub_1", "customer": "cus_1", "status": "active", "items": {"data": [item]}}
    event = {"id": "evt_1", "type": "customer.subscription.created", "created": 1_700_000_000, "data": {"object": obj}}
    {"status": obj, "currency": item["price"], "interval": item["price"]["recurring"]}[field][field] = ["usd"]
    with pytest.raises(day15_InvalidEvent) as info:  # was a TypeError (unhashable list): a 500 at ingress
        day15_validate_event(event)
    assert info.value.field.endswith(field)


def test_a_printable_non_ascii_id_and_a_non_printable_non_control_one_are_both_valid():
    for value in ("évènement_1", "evt\u00a0nbsp", "evt\u200bzero-width"):
        event = {"id": value, "type": "customer.created", "created": 1_700_000_000, "data": {"object": {"id": "cus_1"}}}
        assert day15_validate_event(event) is event
