"""The expectation suites for security data: what must hold, why it matters, and how bad a failure is.

Every expectation carries a description, meta.severity (critical / warning / info) and meta.reason
(the security reason). Thresholds that depend on the run (the clock, clock skew, volumes) are GX
runtime parameters ($PARAMETER), filled in by day12_runtime_parameters().
"""
from __future__ import annotations

import functools
import ipaddress
from datetime import datetime, timedelta

DAY12_EVENT_COLUMNS = ["event_id", "event_time", "ingested_at", "source", "src_ip", "dst_port", "action",
                       "severity", "user", "message", "mitre_technique"]
DAY12_VULN_COLUMNS = ["finding_id", "host", "cve_id", "cvss", "detected_at"]
DAY12_SOURCES = ["okta", "active_directory", "palo_alto_fw", "fortigate_fw"]
DAY12_ACTIONS = ["login_success", "login_failure", "mfa_challenge", "logout", "allow", "deny", "drop"]
DAY12_SEVERITY_LEVELS = ["info", "low", "medium", "high", "critical"]
# Word boundaries spelled out ((?:^|\W) as an ASCII class) instead of \b: PostgreSQL's regex dialect reads \b as a
# backspace, and the same patterns run in pandas, PostgreSQL and SQLite.
DAY12_PII_PATTERNS = [
    r"(?:^|[^0-9A-Za-z_])\d{3}-\d{2}-\d{4}(?:[^0-9A-Za-z_]|$)",     # US social security number
    r"(?:^|[^0-9A-Za-z_])(?:\d[ -]?){12,18}\d(?:[^0-9A-Za-z_]|$)",  # payment card number, spaced or not
    r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}",             # e-mail address
]
DAY12_SEVERITY_RANK = {"info": 0, "warning": 1, "critical": 2}
DAY12_ROW_ID = "day12_row_id"  # the index name under which each dataset's own id identifies failing rows


def day12_is_ip(value) -> bool:
    """IPv4 or IPv6, by Python's ipaddress (a regex gets IPv6 compression and octet ranges wrong)."""
    try:
        ipaddress.ip_address(str(value))
        return True
    except ValueError:
        return False


@functools.cache
def day12_ip_regexes() -> tuple[str, str]:
    """(IPv4, IPv6) patterns, each anchored: day12_ip_regex() joined."""
    v4, v6 = _ip_patterns()
    return f"^{v4}$", f"^(?:{v6})$"


@functools.cache
def day12_ip_regex() -> str:
    """IPv4 or IPv6 as one anchored pattern (see _ip_patterns)."""
    v4, v6 = _ip_patterns()
    return rf"^(?:{v4}|{v6})$"


def _ip_patterns() -> tuple[str, str]:
    """IPv4 or IPv6 exactly as Python's ipaddress accepts them (zone ids aside), for SQL engines, where the
    check runs in the database: octets 0-255 without leading zeros; 8 hextets, or 6 and an IPv4 tail, with at
    most one :: standing for one or more zero groups. Spelled out per group count, because a short regex gets
    compression wrong; tests/test_day12_sql.py checks it against ipaddress on edge cases."""
    octet = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
    v4 = rf"{octet}(?:\.{octet}){{3}}"
    h = r"[0-9A-Fa-f]{1,4}"

    def groups(n: int) -> str:  # exactly n hextets joined by ':'
        return "" if n == 0 else (h if n == 1 else rf"{h}(?::{h}){{{n - 1}}}")

    forms = [rf"(?:{h}:){{7}}{h}", rf"(?:{h}:){{6}}{v4}"]
    for left in range(0, 8):  # with '::' (it stands for at least one group)
        for right in range(0, 8 - left):
            if left + right <= 7:
                forms.append(groups(left) + "::" + groups(right))
            if left + right <= 5:
                forms.append(groups(left) + "::" + (groups(right) + ":" if right else "") + v4)
    return v4, "|".join(forms)


@functools.cache  # GX registers an expectation class when it is defined: define each one once
def day12_register_custom_expectations():
    """The IP-address expectation: a regex cannot validate IPv6 compression or octet ranges."""
    from great_expectations.execution_engine import PandasExecutionEngine, SqlAlchemyExecutionEngine
    from great_expectations.expectations.expectation import ColumnMapExpectation
    from great_expectations.expectations.metrics import ColumnMapMetricProvider, column_condition_partial

    class Day12ColumnValuesValidIp(ColumnMapMetricProvider):
        condition_metric_name = "column_values.day12_valid_ip_address"

        @column_condition_partial(engine=PandasExecutionEngine)
        def _pandas(cls, column, **kwargs):
            return column.map(day12_is_ip)

        @column_condition_partial(engine=SqlAlchemyExecutionEngine)
        def _sqlalchemy(cls, column, **kwargs):  # in the database: PostgreSQL's ~, SQLite's REGEXP (SQLAlchemy's)
            import sqlalchemy as sa

            # the long IPv6 pattern only for values that are not plain dotted digits: PostgreSQL's regex engine
            # takes ~50 us a row on the whole alternation, the IPv4 branch alone ~1 us
            v4, v6 = day12_ip_regexes()
            return sa.case((column.regexp_match(r"^[0-9.]+$"), column.regexp_match(v4)), else_=column.regexp_match(v6))

    class ExpectColumnValuesToBeValidIpAddress(ColumnMapExpectation):
        """Expect column values to be IPv4 or IPv6 addresses (checked with Python's ipaddress module)."""

        map_metric = "column_values.day12_valid_ip_address"
        success_keys = ("mostly",)

    return ExpectColumnValuesToBeValidIpAddress


@functools.cache
def day12_register_source_volume_expectation():
    """The per-value row-count expectation: a source that went silent (0 rows) or nearly silent fails, and
    so does one flooding the export. GX has no built-in for counts per listed value."""
    from typing import Optional, Union

    from great_expectations.compatibility.sqlalchemy import sqlalchemy as sa
    from great_expectations.core.metric_domain_types import MetricDomainTypes
    from great_expectations.core.suite_parameters import SuiteParameterDict
    from great_expectations.execution_engine import PandasExecutionEngine, SqlAlchemyExecutionEngine
    from great_expectations.expectations.expectation import ColumnAggregateExpectation
    from great_expectations.expectations.metrics import ColumnAggregateMetricProvider, column_aggregate_value
    from great_expectations.expectations.metrics.metric_provider import metric_value

    class Day12ColumnValueCounts(ColumnAggregateMetricProvider):
        metric_name = "column.day12_value_counts"

        @column_aggregate_value(engine=PandasExecutionEngine)
        def _pandas(cls, column, **kwargs):
            return {str(value): int(count) for value, count in column.value_counts(dropna=True).items()}

        @metric_value(engine=SqlAlchemyExecutionEngine)
        def _sqlalchemy(cls, execution_engine, metric_domain_kwargs, metric_value_kwargs, **kwargs):
            """One GROUP BY in the database: a row per distinct value comes back, never the table."""
            selectable, _, accessor = execution_engine.get_compute_domain(metric_domain_kwargs, MetricDomainTypes.COLUMN)
            column = sa.column(accessor["column"])
            query = (sa.select(column.label("value"), sa.func.count().label("count")).where(column.is_not(None))
                     .group_by(column).select_from(selectable))
            return {str(value): int(count) for value, count in execution_engine.execute_query(query).fetchall()}

    class ExpectColumnValueCountsToBeBetween(ColumnAggregateExpectation):
        """Expect every value in value_set to occur between min_value and max_value times (inclusive)."""

        value_set: list
        min_value: Optional[Union[int, SuiteParameterDict]] = None
        max_value: Optional[Union[int, SuiteParameterDict]] = None
        metric_dependencies = ("column.day12_value_counts",)
        success_keys = ("value_set", "min_value", "max_value")
        args_keys = ("column", "value_set", "min_value", "max_value")

        def _validate(self, metrics, runtime_configuration=None, execution_engine=None):
            counts, kwargs = metrics["column.day12_value_counts"], self._get_success_kwargs()
            low, high = kwargs.get("min_value"), kwargs.get("max_value")
            observed = {value: counts.get(value, 0) for value in kwargs["value_set"]}
            outside = sorted(v for v, n in observed.items() if (low is not None and n < low) or (high is not None and n > high))
            return {"success": not outside, "result": {"observed_value": observed, "details": {"outside_bounds": outside}}}

    # this module's annotations are strings (from __future__); resolve them with the names imported above
    ExpectColumnValueCountsToBeBetween.update_forward_refs(Optional=Optional, Union=Union, SuiteParameterDict=SuiteParameterDict)
    return ExpectColumnValueCountsToBeBetween


def _expect(cls, severity: str, reason: str, description: str, **kwargs):
    return cls(description=description, meta={"severity": severity, "reason": reason}, **kwargs)


def day12_event_expectations() -> list:
    import great_expectations.expectations as gxe

    ip = day12_register_custom_expectations()
    volume = day12_register_source_volume_expectation()
    return [
        _expect(gxe.ExpectTableColumnsToMatchSet, "critical", "a changed schema silently breaks every detection rule",
                "The export has exactly the agreed columns", column_set=DAY12_EVENT_COLUMNS, exact_match=True),
        _expect(gxe.ExpectColumnValuesToBeUnique, "critical", "duplicated events double-count failed logins and skew alert thresholds",
                "event_id is unique", column="event_id"),
        _expect(gxe.ExpectColumnValuesToNotBeNull, "critical", "an event without a parseable time cannot be placed on an incident timeline",
                "event_time is present and parseable", column="event_time"),
        _expect(gxe.ExpectColumnValuesToBeBetween, "critical", "future timestamps hide events from time-window correlation",
                "event_time is not in the future beyond the allowed clock skew", column="event_time",
                max_value={"$PARAMETER": "day12_latest_event_time"}),
        _expect(gxe.ExpectColumnPairValuesAToBeGreaterThanB, "warning", "ingestion before the event means a skewed sensor clock",
                "ingested_at is at or after event_time for at least 99% of events", column_A="ingested_at",
                column_B="event_time", or_equal=True, mostly=0.99),
        _expect(ip, "critical", "an invalid source IP breaks enrichment, geo-blocking and threat-intel matching",
                "src_ip is a valid IPv4 or IPv6 address", column="src_ip"),
        _expect(gxe.ExpectColumnValuesToBeInSet, "warning", "an unknown severity is never escalated by the SOC playbooks",
                "severity is one of the agreed levels", column="severity", value_set=DAY12_SEVERITY_LEVELS),
        _expect(gxe.ExpectColumnValuesToBeInSet, "warning", "an unknown action falls through every firewall and auth rule",
                "action is one of the agreed actions", column="action", value_set=DAY12_ACTIONS),
        _expect(gxe.ExpectColumnValuesToBeBetween, "warning", "an impossible port means a parsing fault upstream",
                "dst_port is between 0 and 65535", column="dst_port", min_value=0, max_value=65535),
        _expect(gxe.ExpectColumnValuesToNotMatchRegexList, "critical", "PII in log text breaches GDPR/PCI the moment it reaches the SIEM",
                "message contains no SSN, card number or e-mail address", column="message", regex_list=DAY12_PII_PATTERNS),
        _expect(gxe.ExpectColumnValuesToMatchRegex, "info", "an ATT&CK id that does not resolve breaks technique coverage reports",
                "mitre_technique looks like T1234 or T1234.001 when present", column="mitre_technique",
                regex=r"^T\d{4}(?:\.\d{3})?$"),
        _expect(volume, "critical", "a log source that went silent is a blind spot, or an attacker; one flooding the export is a loop",
                "every expected log source sent a plausible number of events", column="source", value_set=DAY12_SOURCES,
                min_value={"$PARAMETER": "day12_min_rows_per_source"}, max_value={"$PARAMETER": "day12_max_rows_per_source"}),
        _expect(gxe.ExpectTableRowCountToBeBetween, "warning", "a near-empty or runaway export is a broken pipeline, not a quiet day",
                "row count is within the expected volume", min_value={"$PARAMETER": "day12_min_rows"},
                max_value={"$PARAMETER": "day12_max_rows"}),
    ]


def day12_vuln_expectations() -> list:
    import great_expectations.expectations as gxe

    return [
        _expect(gxe.ExpectTableColumnsToMatchSet, "critical", "a changed scanner export breaks patch prioritisation",
                "The scan export has exactly the agreed columns", column_set=DAY12_VULN_COLUMNS, exact_match=True),
        _expect(gxe.ExpectColumnValuesToBeUnique, "warning", "duplicate findings inflate risk scores", "finding_id is unique",
                column="finding_id"),
        _expect(gxe.ExpectColumnValuesToMatchRegex, "warning", "a malformed CVE id cannot be matched to advisories or KEV",
                "cve_id follows CVE-YYYY-NNNN+", column="cve_id", regex=r"^CVE-\d{4}-\d{4,}$"),
        _expect(gxe.ExpectColumnValuesToBeBetween, "critical", "a CVSS outside 0-10 corrupts every risk ranking built on it",
                "cvss is between 0 and 10", column="cvss", min_value=0, max_value=10),
        _expect(gxe.ExpectColumnValuesToNotBeNull, "warning", "a finding without a host cannot be assigned for remediation",
                "host is present", column="host"),
    ]


DAY12_DATASETS = {"security_events": day12_event_expectations, "vulnerability_scan": day12_vuln_expectations}


def day12_runtime_parameters(settings, now: datetime) -> dict:
    import pandas as pd

    return {"day12_latest_event_time": pd.Timestamp(now + timedelta(minutes=settings.clock_skew_minutes)),
            "day12_min_rows": settings.min_rows, "day12_max_rows": settings.max_rows,
            "day12_min_rows_per_source": settings.min_rows_per_source, "day12_max_rows_per_source": settings.max_rows_per_source}
