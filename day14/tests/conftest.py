"""Builders for small hand-made transport networks, so each KPI can be checked by hand."""
from __future__ import annotations

import csv
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from aiosmtpd.smtp import MISSING

ROUTE_TYPES = {"train": 2, "tram": 0, "bus": 3}


def _write_csv(path: Path, header, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)


class day14_Updates:
    """GTFS-Realtime trip updates for the hand-made networks."""

    @staticmethod
    def delivered(trip_id, delay=None, low_floor=None, arrival_time=None, last_seq=3):
        """A trip that ran to its destination, with a delay or an absolute arrival time there."""
        update = {"trip": {"tripId": trip_id, "scheduleRelationship": "SCHEDULED"}, "stopTimeUpdate": []}
        if delay is not None or arrival_time is not None:
            event = {"delay": delay} if delay is not None else {"time": str(arrival_time)}
            update["stopTimeUpdate"].append({"stopSequence": last_seq, "arrival": event})
        if low_floor is not None:
            update["vehicle"] = {"wheelchairAccessible": "WHEELCHAIR_ACCESSIBLE" if low_floor else "WHEELCHAIR_INACCESSIBLE"}
        return update

    @staticmethod
    def cancelled(trip_id):
        return {"trip": {"tripId": trip_id, "scheduleRelationship": "CANCELED"}}

    @staticmethod
    def short_run(trip_id, skipped=(3,)):
        return {"trip": {"tripId": trip_id}, "stopTimeUpdate": [
            {"stopSequence": seq, "scheduleRelationship": "SKIPPED"} for seq in skipped]}


@pytest.fixture
def updates():
    return day14_Updates


@pytest.fixture
def network(tmp_path):
    """network(trips={trip_id: mode}, realtime={date: [updates]}, ...) -> data folder.

    Every trip has three stops at 0, 5 and 10 km, arriving at 08:00, 08:10 and `arrival` (08:20 by default).
    """
    def build(trips, realtime=None, removed=(), patronage=(), incidents=(), arrival="08:20:00"):
        root = tmp_path / "ops"
        _write_csv(root / "gtfs/routes.txt", ["route_id", "route_type"], [[m, t] for m, t in ROUTE_TYPES.items()])
        _write_csv(root / "gtfs/calendar.txt",
                   ["service_id", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday",
                    "start_date", "end_date"],
                   [[f"{m}_all", 1, 1, 1, 1, 1, 1, 1, "20200101", "20301231"] for m in ROUTE_TYPES])
        _write_csv(root / "gtfs/calendar_dates.txt", ["service_id", "date", "exception_type"],
                   [[f"{mode}_all", f"{day:%Y%m%d}", 2] for mode, day in removed])
        _write_csv(root / "gtfs/trips.txt", ["route_id", "service_id", "trip_id"],
                   [[mode, f"{mode}_all", trip_id] for trip_id, mode in trips.items()])
        _write_csv(root / "gtfs/stop_times.txt",
                   ["trip_id", "arrival_time", "departure_time", "stop_id", "stop_sequence", "shape_dist_traveled"],
                   [row for trip_id in trips for row in (
                       [trip_id, "08:00:00", "08:00:00", "s1", 1, 0],
                       [trip_id, "08:10:00", "08:10:00", "s2", 2, 5],
                       [trip_id, arrival, arrival, "s3", 3, 10])])
        for day, updates in (realtime or {}).items():
            path = root / f"realtime/trip_updates_{day:%Y%m%d}.json"
            path.parent.mkdir(parents=True, exist_ok=True)
            for update in updates:
                update["trip"].setdefault("startDate", f"{day:%Y%m%d}")
            path.write_text(json.dumps({"header": {"gtfsRealtimeVersion": "2.0"},
                                        "entity": [{"id": str(i), "tripUpdate": u} for i, u in enumerate(updates)]}))
        _write_csv(root / "patronage_daily.csv", ["date", "mode", "boardings"], patronage)
        _write_csv(root / "incidents.csv", ["incident_id", "service_date", "occurred_at", "mode", "trip_id", "category"],
                   [[f"I{n}", day.isoformat(), "", mode, "", category] for n, (day, mode, category) in enumerate(incidents)])
        return root
    return build



class day14_ScriptedHandler:
    """An aiosmtpd handler that misbehaves from a script.

    data_replies: DATA answers in order: a reply line, 'disconnect' (drop mid-DATA), or a reply line
    ending in '|drop' (answer, then drop the connection at the client's next command).
    refuse: addresses refused with 550 at RCPT; defer: {address: n} answered 450 at the first n RCPTs.
    """

    def __init__(self, data_replies=(), refuse=(), defer=None):
        self.data_replies = list(data_replies)
        self.refuse = set(refuse)
        self.defer = dict(defer or {})
        self.messages = []  # (envelope recipients, raw bytes) of every accepted message
        self.data_calls = 0
        self.drop_next = False

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return "550 5.1.1 mailbox unavailable"
        if self.defer.get(address, 0) > 0:
            self.defer[address] -= 1
            return "450 4.2.1 mailbox busy, try later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.data_calls += 1
        reply = self.data_replies.pop(0) if self.data_replies else "250 2.0.0 queued"
        if reply == "disconnect":
            server.transport.close()  # the client is mid-DATA and sees the connection drop
            return "421 closing"
        if reply.endswith("|drop"):
            reply, self.drop_next = reply.removesuffix("|drop"), True
        if reply.startswith("2"):
            self.messages.append((list(envelope.rcpt_tos), envelope.original_content or envelope.content))
        return reply

    async def _maybe_drop(self, server):
        if self.drop_next:
            self.drop_next = False
            server.transport.abort()  # nothing more reaches the client: the connection is simply gone
        return MISSING

    async def handle_NOOP(self, server, session, envelope, arg):
        return await self._maybe_drop(server)

    async def handle_QUIT(self, server, session, envelope):
        return await self._maybe_drop(server)

    async def handle_RSET(self, server, session, envelope):
        return await self._maybe_drop(server)


@pytest.fixture
def scripted():
    return day14_ScriptedHandler


@pytest.fixture
def smtp_server():
    """smtp_server(handler, **controller_options) -> port of a real aiosmtpd server on loopback."""
    from aiosmtpd.controller import Controller

    from day14_DELIVERY_transports import day14_free_port

    started = []

    def start(handler, **options):
        controller = Controller(handler, hostname="127.0.0.1", port=day14_free_port(), **options)
        controller.start()
        started.append(controller)
        return controller.port

    yield start
    for controller in started:
        controller.stop()


@pytest.fixture
def sendgrid_stand_in():
    """A real HTTP server answering like SendGrid from a script of status codes; records bodies."""
    calls, script = [], []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            calls.append({"auth": self.headers["Authorization"],
                          "body": json.loads(self.rfile.read(int(self.headers["Content-Length"])))})
            status = script.pop(0) if script else 202
            if status == "hang":  # takes the request, never answers in time
                import time
                time.sleep(2)
                status = 202
            payload = b"" if status == 202 else json.dumps({"errors": [{"message": f"status {status}"}]}).encode()
            self.send_response(status)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/v3/mail/send", calls, script
    server.shutdown()


@pytest.fixture(scope="session")
def ops_dir(tmp_path_factory):
    """Seeded synthetic operations data up to 2026-11-22, generated once for the session."""
    from datetime import date

    from shared_synthetic_data import transport

    folder = tmp_path_factory.mktemp("ops")
    transport.generate(end_date=date(2026, 11, 22)).write(folder)
    return folder / "transport"
