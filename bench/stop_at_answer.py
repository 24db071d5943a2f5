"""Stop at the answer: time from a submitted response to its pending reminders cancelled.

Runs the embedded default (`jejak up`: SQLite, embedded Redis, one worker with beat) in a
temporary folder with demo data, launches a campaign for the demo wave, then submits
answers one by one through the intake API and polls the database until that alumnus's
pending messages are cancelled. Target (issue): p95 ≤ 2 s.

    python bench/stop_at_answer.py [--submissions 40]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

from sqlalchemy import create_engine, select

SECRET = "bench-secret-key-0123456789"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--submissions", type=int, default=40)
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="jejak-bench-"))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("JEJAK_")}
    env.update(JEJAK_HOME=str(home), JEJAK_SECRET_KEY=SECRET, JEJAK_QUIET_HOURS="")
    process = subprocess.Popen(
        [sys.executable, "-m", "services.cli", "up", "--demo", "--port", str(port)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        output = ""
        while "Press Ctrl-C" not in output:
            line = process.stdout.readline()
            if not line:
                raise SystemExit(f"jejak up failed:\n{output}")
            output += line
        run(home, port, args.submissions)
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=60)


def run(home: Path, port: int, submissions: int) -> None:
    os.environ.update(JEJAK_HOME=str(home), JEJAK_SECRET_KEY=SECRET, JEJAK_QUIET_HOURS="")
    from services.demo import demo_answers
    from services.outreach import campaigns
    from services.survey.links import make_token
    from shared.config import Settings
    from shared.db import Database
    from shared.models import Message, Response, Wave, WaveTarget

    settings = Settings.from_env()
    database = Database.for_url(settings.database_url)
    with database.session_factory() as session:
        wave = session.scalar(select(Wave).where(Wave.slug == "tracer-2025"))
        campaign = campaigns.create_campaign(session, name="bench", wave_id=wave.id)
        campaigns.launch(session, campaign, settings)
        session.commit()
        answered = select(Response.alumnus_id).where(Response.wave_id == wave.id)
        pending = list(session.scalars(
            select(WaveTarget.alumnus_id).where(WaveTarget.wave_id == wave.id,
                                                WaveTarget.alumnus_id.not_in(answered))))
    rng = random.Random(1)
    engine = create_engine(settings.database_url)
    latencies = []
    for alumnus_id in pending[:submissions]:
        body = json.dumps({"id": str(uuid.uuid4()), "wave": "tracer-2025",
                           "token": make_token(SECRET, wave.id, alumnus_id),
                           "answers": demo_answers(rng, 0)}).encode()
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/survey/api/v1/responses", data=body,
            headers={"Content-Type": "application/json"})
        started = time.perf_counter()
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 201
        while True:
            with engine.connect() as connection:
                left = connection.scalar(
                    select(Message.id).where(Message.alumnus_id == alumnus_id,
                                             Message.status.in_(("planned", "queued")))
                    .limit(1))
            if left is None:
                break
            if time.perf_counter() - started > 30:
                raise SystemExit(f"alumnus {alumnus_id}: messages still pending after 30 s")
            time.sleep(0.01)
        latencies.append(time.perf_counter() - started)
    latencies.sort()
    p95 = latencies[max(0, int(len(latencies) * 0.95) - 1)]
    print(f"submissions: {len(latencies)}")
    print(f"submission → pending reminders cancelled: p50 {statistics.median(latencies)*1000:.0f}"
          f" ms, p95 {p95*1000:.0f} ms, max {latencies[-1]*1000:.0f} ms (target p95 ≤ 2000 ms)")


if __name__ == "__main__":
    main()
