"""A page that loses its socket resumes within the grace period; one that does not, drops."""

from __future__ import annotations

import asyncio

from signaling.events import SessionEnded, SideJoined, SideLeft
from signaling.routes import HUB
from tests.signaling.conftest import Closed, open_call, until


def recorder(app):
    events = []

    async def listener(event):
        events.append(event)

    app[HUB].add_listener(listener)
    return events


async def test_messages_sent_while_she_was_away_arrive_after_she_resumes_once_each_in_order(
    server, connect, officer_cookie
):
    cookie, _ = await officer_cookie()
    events = recorder(server.server.app)
    call = await open_call(connect, server, server, cookie)
    await call.officer.send("chat", text="before")
    assert (await call.citizen.expect("chat"))["text"] == "before"
    await call.citizen.ack()

    await call.citizen.ws.close()  # her phone switches networks
    left = await call.officer.expect("peer-left")
    assert left["side"] == "citizen" and left["grace_seconds"] > 0
    for text in ("one", "two", "three"):
        await call.officer.send("chat", text=text)
    await call.officer.send("candidate", candidate=None)

    page = await connect(server)
    page.resume_token, page.last_seq, page.seq = (
        call.citizen.resume_token,
        call.citizen.last_seq,
        call.citizen.seq,
    )
    joined = await page.resume(call.session)

    assert joined["side"] == "citizen" and joined["peer"] == "connected"
    assert joined["resume_token"] == call.citizen.resume_token
    texts = [(await page.expect("chat"))["text"] for _ in range(3)]
    assert texts == ["one", "two", "three"]  # Page.recv also checks seqs: no gap, no repeat
    assert (await page.expect("candidate"))["candidate"] is None
    back = await call.officer.expect("peer-joined")
    assert back["side"] == "citizen" and back["resumed"] is True
    await page.send("chat", text="I am back")
    assert (await call.officer.expect("chat"))["text"] == "I am back"
    await until(lambda: SideJoined("s-1", "citizen", True) in events)
    assert SideLeft("s-1", "citizen") in events
    assert not any(isinstance(e, SessionEnded) for e in events)


async def test_unacknowledged_messages_come_again_from_the_page_s_last_seq(
    server, connect, officer_cookie
):
    cookie, _ = await officer_cookie()
    call = await open_call(connect, server, server, cookie)
    for text in ("a", "b", "c"):
        await call.officer.send("chat", text=text)
    assert (await call.citizen.expect("chat"))["text"] == "a"
    assert (await call.citizen.expect("chat"))["text"] == "b"
    # she processed "a" and "b" but never acknowledged them; "c" is lost with the socket
    await call.citizen.ws.close()

    page = await connect(server)
    page.resume_token, page.last_seq = call.citizen.resume_token, call.citizen.last_seq
    await page.resume(call.session)

    assert (await page.expect("chat"))["text"] == "c"


async def test_the_page_resends_what_the_server_had_not_acknowledged_and_duplicates_are_dropped(
    server, connect, officer_cookie
):
    cookie, _ = await officer_cookie()
    call = await open_call(connect, server, server, cookie)
    await call.citizen.send("chat", text="first")
    await call.citizen.send("chat", text="second")
    assert (await call.officer.expect("chat"))["text"] == "first"
    assert (await call.officer.expect("chat"))["text"] == "second"
    await call.citizen.ws.close()

    page = await connect(server)
    page.resume_token, page.last_seq = call.citizen.resume_token, call.citizen.last_seq
    joined = await page.resume(call.session)
    assert joined["last_seq"] == 2  # the server holds both
    # a page that did not see the ack resends; the server acknowledges and drops the copy
    await page.send("chat", seq=2, text="second")
    await page.send("chat", seq=3, text="third")

    assert (await page.expect("ack"))["seq"] >= 2
    assert (await call.officer.expect("peer-left"))["side"] == "citizen"
    assert (await call.officer.expect("peer-joined"))["side"] == "citizen"
    assert (await call.officer.expect("chat"))["text"] == "third"


async def test_a_side_that_does_not_come_back_in_time_ends_the_session_as_dropped(
    server, connect, officer_cookie
):
    cookie, _ = await officer_cookie()
    events = recorder(server.server.app)
    call = await open_call(connect, server, server, cookie)
    await call.officer.send("chat", text="are you there?")
    await call.citizen.ws.close()

    await until(lambda: any(isinstance(e, SessionEnded) for e in events))

    ended = [e for e in events if isinstance(e, SessionEnded)]
    assert ended == [SessionEnded("s-1", "dropped", "citizen")]
    assert (await call.officer.expect("peer-left"))["side"] == "citizen"
    message = await call.officer.expect("session-ended")
    assert message["reason"] == "dropped" and message["side"] == "citizen"
    assert await call.officer.closed() == 1000
    # she comes back too late: what was waiting for her, then how it ended
    late = await connect(server)
    late.resume_token = call.citizen.resume_token
    late.last_seq = call.citizen.last_seq
    await late.send(
        "resume", session=call.session, resume_token=late.resume_token, last_seq=late.last_seq
    )
    assert (await late.expect("chat"))["text"] == "are you there?"
    assert (await late.expect("session-ended"))["reason"] == "dropped"
    assert await late.closed() == 1000


async def test_coming_back_within_the_grace_period_keeps_the_session(
    server, connect, officer_cookie
):
    cookie, _ = await officer_cookie()
    events = recorder(server.server.app)
    call = await open_call(connect, server, server, cookie)
    grace = server.server.app[HUB].config.grace_seconds

    await call.citizen.ws.close()
    page = await connect(server)
    page.resume_token, page.last_seq = call.citizen.resume_token, call.citizen.last_seq
    await page.resume(call.session)
    await asyncio.sleep(grace * 2.5)  # well past the first deadline: the sweeper has run

    assert not any(isinstance(e, SessionEnded) for e in events)
    await call.officer.send("chat", text="still here")
    assert (await page.expect("chat"))["text"] == "still here"


async def test_resuming_on_a_new_socket_replaces_the_old_one(server, connect, officer_cookie):
    cookie, _ = await officer_cookie()
    call = await open_call(connect, server, server, cookie)

    page = await connect(server)
    page.resume_token, page.last_seq = call.citizen.resume_token, call.citizen.last_seq
    await page.resume(call.session)  # the old socket is half-open: the server has not noticed

    error = await call.citizen.expect("error")
    assert error["code"] == "replaced" and error["fatal"] is True
    assert await call.citizen.closed() == 4409
    assert (await call.officer.expect("peer-joined"))["resumed"] is True
    await call.officer.send("chat", text="to the new socket")
    assert (await page.expect("chat"))["text"] == "to the new socket"


async def test_a_fresh_page_joins_with_a_fresh_token_and_continues_the_numbering(
    server, connect, officer_cookie
):
    """Her console reloads: it asks for a fresh officer token (as /answer gives one) and
    joins again; the numbering goes on. A join token joins once: the one used before (a
    replayed citizen token too) opens nothing (issue 13, item 9)."""
    cookie, _ = await officer_cookie()
    call = await open_call(connect, server, server, cookie)
    await call.officer.send("chat", text="one")
    await call.citizen.expect("chat")
    await call.officer.ws.close()

    replayed = await connect(server, cookie=cookie)
    await replayed.send("join", session=call.session, token=call.officer_token)
    assert (await replayed.expect("error"))["code"] == "invalid_token"
    again = await connect(server)
    await again.send("join", session=call.session, token=call.citizen_token)
    assert (await again.expect("error"))["code"] == "invalid_token"

    fresh = await connect(server, cookie=cookie)
    token = await server.server.app[HUB].officer_token(call.session, None)
    joined = await fresh.join(call.session, token)
    assert joined["last_seq"] == 1
    assert joined["resume_token"] != call.officer.resume_token
    assert (await call.citizen.expect("peer-left"))["side"] == "officer"
    assert (await call.citizen.expect("peer-joined"))["resumed"] is False
    fresh.seq = joined["last_seq"]
    await fresh.send("chat", text="two")
    assert (await call.citizen.expect("chat"))["text"] == "two"
    # the old resume token died with the old page
    stale = await connect(server, cookie=cookie)
    stale.resume_token = call.officer.resume_token
    await stale.send("resume", session=call.session, resume_token=stale.resume_token, last_seq=0)
    assert (await stale.expect("error"))["code"] == "invalid_token"
    assert await stale.closed() == 4401


async def test_a_wrong_resume_token_is_refused_and_closed(server, connect, officer_cookie):
    cookie, _ = await officer_cookie()
    call = await open_call(connect, server, server, cookie)
    page = await connect(server)

    await page.send("resume", session=call.session, resume_token="x" * 32, last_seq=0)

    error = await page.expect("error")
    assert error["code"] == "invalid_token" and error["fatal"] is True
    assert await page.closed() == 4401
    await call.officer.send("chat", text="the call goes on")
    assert (await call.citizen.expect("chat"))["text"] == "the call goes on"


async def test_ended_session_closes_the_pages_when_the_server_ends_it(
    server, connect, officer_cookie
):
    cookie, _ = await officer_cookie()
    events = recorder(server.server.app)
    call = await open_call(connect, server, server, cookie)

    assert await server.server.app[HUB].end_session(call.session) is True
    assert await server.server.app[HUB].end_session(call.session) is False

    for page in (call.citizen, call.officer):
        message = await page.expect("session-ended")
        assert message["reason"] == "closed" and message["side"] is None
        assert await page.closed() == 1000
    await until(lambda: any(isinstance(e, SessionEnded) for e in events))  # heard in a task
    assert [e for e in events if isinstance(e, SessionEnded)] == [
        SessionEnded("s-1", "closed", None)
    ]
    try:
        await call.citizen.recv(0.5)
    except Closed:
        pass
