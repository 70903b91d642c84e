"""Security-event tables generated inside the database (generate_series), for the SQL-source tests and benchmark.

Millions of rows are written by the database itself, so neither the test nor the benchmark ever holds the
table in Python. A dirty table carries seeded defects at known ids: PII in the message, invalid source IPs,
a duplicated event_id and a future event_time.
"""
from __future__ import annotations

DAY12_DIRTY_EVERY = {"pii": 10_007, "invalid_ip": 20_021, "future": 40_009}  # one defect row per this many rows


def day12_event_id(n: int) -> str:
    return f"E{n:010d}"


def day12_create_events_table(connection_string: str, schema: str, table: str, rows: int, *, dirty: bool = False) -> dict:
    """Create schema.table with `rows` security events; for a dirty table, the ids of each seeded defect."""
    import sqlalchemy as sa

    engine = sa.create_engine(connection_string)
    qualified = f"{schema}.{table}" if schema else table
    postgres = engine.dialect.name == "postgresql"
    series = ("generate_series(1, :rows) AS s(g)" if postgres else
              "(WITH RECURSIVE s(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM s WHERE g < :rows) SELECT g FROM s) AS s")
    times = (("timestamptz '2026-11-22 00:00:00+00' + (g % 86400) * interval '1 second'",
              "timestamptz '2026-11-22 00:00:20+00' + (g % 86400) * interval '1 second'") if postgres else
             ("datetime('2026-11-22 00:00:00', '+' || (g % 86400) || ' seconds')",
              "datetime('2026-11-22 00:00:20', '+' || (g % 86400) || ' seconds')"))
    pick = (lambda items, k: f"(ARRAY[{', '.join(items)}])[1 + g % {k}]") if postgres else (
        lambda items, k: "CASE g % " + str(k) + " " + " ".join(f"WHEN {i} THEN {v}" for i, v in enumerate(items)) + " END")
    concat = "||"
    sources = ["'okta'", "'active_directory'", "'palo_alto_fw'", "'fortigate_fw'"]
    actions = ["'login_success'", "'login_failure'", "'mfa_challenge'", "'logout'", "'allow'", "'deny'", "'drop'"]
    severities = ["'info'", "'low'", "'medium'", "'high'", "'critical'"]
    text = "text" if postgres else "TEXT"
    create = f"""
        CREATE TABLE {qualified} AS
        SELECT CAST({"'E' || lpad(CAST(g AS text), 10, '0')" if postgres else "printf('E%010d', g)"} AS {text}) AS event_id,
               {times[0]} AS event_time,
               {times[1]} AS ingested_at,
               CAST({pick(sources, 4)} AS {text}) AS source,
               CAST('10.' {concat} (g % 256) {concat} '.' {concat} ((g / 256) % 256) {concat} '.'
                    {concat} ((g / 65536) % 256) AS {text}) AS src_ip,
               {pick(['22', '443', '3389', '636'], 4)} AS dst_port,
               CAST({pick(actions, 7)} AS {text}) AS action,
               CAST({pick(severities, 5)} AS {text}) AS severity,
               CAST('user' {concat} (g % 500) AS {text}) AS "user",
               CAST('login for user' {concat} (g % 500) {concat} ' via sso' AS {text}) AS message,
               CASE WHEN g % 3 = 0 THEN 'T1110.003' END AS mitre_technique
        FROM {series}"""
    injected = {}
    with engine.begin() as connection:
        if schema and postgres:
            connection.execute(sa.text(f"CREATE SCHEMA IF NOT EXISTS {schema}"))
        connection.execute(sa.text(f"DROP TABLE IF EXISTS {qualified}"))
        connection.execute(sa.text(create), {"rows": rows})
        if dirty:
            injected = _inject(connection, qualified, rows)
        if postgres:
            connection.execute(sa.text(f"ANALYZE {qualified}"))
    engine.dispose()
    return injected


def _inject(connection, qualified: str, rows: int) -> dict:
    import sqlalchemy as sa

    ids = {name: [day12_event_id(g) for g in range(every, rows + 1, every)] for name, every in DAY12_DIRTY_EVERY.items()}
    ids["duplicate"] = [day12_event_id(2)]
    updates = {"pii": "message = 'contact me: 078-05-1120'", "invalid_ip": "src_ip = '192.168.001.300'",
               "future": "event_time = event_time + interval '3650 days'" if connection.dialect.name == "postgresql"
               else "event_time = datetime(event_time, '+3650 days')"}
    for name, change in updates.items():
        if ids[name]:
            connection.execute(sa.text(f"UPDATE {qualified} SET {change} WHERE event_id IN :ids")
                               .bindparams(sa.bindparam("ids", expanding=True)), {"ids": ids[name]})
    connection.execute(sa.text(f"UPDATE {qualified} SET event_id = :dup WHERE event_id = :other"),
                       {"dup": day12_event_id(2), "other": day12_event_id(3)})
    return ids
