"""The two applications the HTTP benchmark serves with the same gunicorn settings.

``registry_app()`` is the registry as deployed (settings from the environment), with rate limits
off: one load generator on one address would otherwise be answered 429. ``minimal_app()`` is the
limit: a bare Flask route reading one row by id, and one inserting a row, on the same driver and pool.
"""

from __future__ import annotations

import os

from flask import Flask, jsonify, request
from sqlalchemy import create_engine, text


def registry_app():
    from registry import create_app

    return create_app({"RATELIMIT_ENABLED": False}, check_start=False)


def minimal_app():
    from config import database_url

    engine = create_engine(database_url(os.environ["DATABASE_URL"]), pool_pre_ping=True)
    serial = "INTEGER PRIMARY KEY" if engine.dialect.name == "sqlite" else "SERIAL PRIMARY KEY"
    with engine.begin() as conn:
        conn.execute(text(f"CREATE TABLE IF NOT EXISTS bench_note (id {serial}, body TEXT)"))
    app = Flask("minimal")

    @app.get("/row/<int:row_id>")
    def row(row_id: int):
        with engine.connect() as conn:
            found = conn.execute(text("SELECT * FROM animal WHERE id = :id"), {"id": row_id}).mappings().first()
        return jsonify({k: str(v) for k, v in found.items()}) if found else ("", 404)

    @app.post("/row")
    def insert():
        body = request.get_data(as_text=True)
        with engine.begin() as conn:
            new_id = conn.execute(text("INSERT INTO bench_note (body) VALUES (:b) RETURNING id"), {"b": body}).scalar()
        return jsonify({"id": new_id}), 201

    return app
