"""Server-side sessions: the cookie is a signed id, the data is encrypted where it is kept, a new id replaces an
old one when the session comes to hold an access code."""

from dukcapil_web.adapters.sessions import MemorySessionStore, Sessions

CODE = "K7QM-2XDP-9WBT-H4RZ-V"


async def test_the_store_holds_neither_the_code_nor_the_cookie() -> None:
    store = MemorySessionStore()
    sessions = Sessions(store, secret="s" * 40, idle_seconds=60)
    session = await sessions.load(None)
    session["followed"] = {"r": {"number": "360214-20261128-0001", "code": CODE}}
    cookie = await sessions.save(session)
    assert cookie and session.session_id
    [(key, (_, stored))] = store._items.items()
    assert CODE.encode() not in stored and session.session_id not in key
    again = await sessions.load(cookie)
    assert again["followed"]["r"]["code"] == CODE


async def test_a_forged_or_foreign_cookie_opens_an_empty_session() -> None:
    sessions = Sessions(MemorySessionStore(), secret="s" * 40, idle_seconds=60)
    session = await sessions.load(None)
    session["csrf"] = "t"
    cookie = await sessions.save(session)
    assert cookie
    assert dict(await sessions.load(cookie[:-2] + "xx")) == {}
    other = Sessions(MemorySessionStore(), secret="o" * 40, idle_seconds=60)
    assert dict(await other.load(cookie)) == {}


async def test_rotating_gives_a_new_id_and_forgets_the_old() -> None:
    sessions = Sessions(MemorySessionStore(), secret="s" * 40, idle_seconds=60)
    session = await sessions.load(None)
    session["csrf"] = "t"
    first = await sessions.save(session)
    loaded = await sessions.load(first)
    loaded["followed"] = {"r": {"code": CODE}}
    loaded.rotate()
    second = await sessions.save(loaded)
    assert second != first
    assert dict(await sessions.load(first)) == {}
    assert (await sessions.load(second))["followed"]["r"]["code"] == CODE


async def test_an_idle_session_is_gone() -> None:
    sessions = Sessions(MemorySessionStore(), secret="s" * 40, idle_seconds=-1)
    session = await sessions.load(None)
    session["csrf"] = "t"
    cookie = await sessions.save(session)
    assert dict(await sessions.load(cookie)) == {}
