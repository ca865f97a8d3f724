"""A real protected database for the database actions' tests: `ic_target_<random>` on the local
PostgreSQL (127.0.0.1, user postgres), filled with customers and orders, dropped afterwards.

A template is filled once per test module; each test gets its own copy (CREATE DATABASE …
TEMPLATE is a file copy, far faster than filling it again)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest
from django.test import override_settings
from psycopg import sql

SERVER = {"host": "127.0.0.1", "port": 5432, "user": "postgres"}
# Sent in every TARGET_DATABASE_URL: the server trusts every login, so it is never checked, but
# it must never appear in an argv, a log line, a summary or a result.
PASSWORD = "pw-Must-Not-Leak-7c1e"
CUSTOMERS = 1000
ORDERS = 4000


def connect(dbname: str = "postgres", **options: Any) -> psycopg.Connection[tuple[Any, ...]]:
    return psycopg.connect(**{**SERVER, "dbname": dbname, "autocommit": True, **options})


def drop_database(name: str) -> None:
    assert name.startswith("ic_target_")
    with connect() as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def fill(conn: psycopg.Connection[tuple[Any, ...]]) -> None:
    conn.execute(
        """CREATE TABLE customers (id bigserial PRIMARY KEY, email text NOT NULL UNIQUE, name text NOT NULL);
           CREATE TABLE orders (
               id bigserial PRIMARY KEY,
               customer_id bigint NOT NULL REFERENCES customers,
               total numeric(10, 2) NOT NULL,
               note text NOT NULL DEFAULT ''
           );
           CREATE INDEX orders_customer ON orders (customer_id);"""
    )
    conn.execute(
        "INSERT INTO customers (email, name) SELECT 'c' || i || '@example.org', 'Customer ' || i "
        "FROM generate_series(1, %s) AS i",
        [CUSTOMERS],
    )
    conn.execute(
        "INSERT INTO orders (customer_id, total, note) SELECT 1 + i %% %s, (i * 7) %% 1000 + 0.99, md5(i::text) "
        "FROM generate_series(1, %s) AS i",
        [CUSTOMERS, ORDERS],
    )


@dataclass
class TargetDb:
    name: str

    @property
    def url(self) -> str:
        return f"postgres://{SERVER['user']}:{PASSWORD}@{SERVER['host']}:{SERVER['port']}/{self.name}"

    def connect(self, **options: Any) -> psycopg.Connection[tuple[Any, ...]]:
        return connect(self.name, **options)

    def scalar(self, query: str, params: list[Any] | None = None) -> Any:
        with self.connect() as conn:
            row = conn.execute(query, params or []).fetchone()  # type: ignore[arg-type]
            return row[0] if row else None

    def counts(self) -> tuple[int, int, str]:
        """Customers, orders, and a digest of every order (to prove rows came back as they were)."""
        return (
            self.scalar("SELECT count(*) FROM customers"),
            self.scalar("SELECT count(*) FROM orders"),
            self.scalar(
                "SELECT md5(string_agg(id || ':' || customer_id || ':' || total || note, ',' ORDER BY id)) FROM orders"
            ),
        )


@contextmanager
def template_database() -> Iterator[str]:
    name = f"ic_target_{secrets.token_hex(4)}_tpl"
    with connect() as conn:
        conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE template0").format(sql.Identifier(name)))
    try:
        with connect(name) as conn:
            fill(conn)
        yield name
    finally:
        drop_database(name)


@contextmanager
def target_database(template: str) -> Iterator[TargetDb]:
    """A fresh copy of the filled template as TARGET_DATABASE_URL."""
    target = TargetDb(f"ic_target_{secrets.token_hex(4)}")
    with connect() as conn:
        conn.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(target.name), sql.Identifier(template))
        )
    try:
        with override_settings(TARGET_DATABASE_URL=target.url):
            yield target
    finally:
        drop_database(target.name)


@pytest.fixture(scope="module")
def filled_template() -> Iterator[str]:
    with template_database() as name:
        yield name


@pytest.fixture
def target(filled_template: str) -> Iterator[TargetDb]:
    with target_database(filled_template) as found:
        yield found
