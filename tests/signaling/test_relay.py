"""Two pages in one session on one server: offer, answer, candidates, chat, hang-up."""

from __future__ import annotations

from signaling.events import ChatPosted, SessionEnded
from signaling.routes import HUB
from tests.signaling.conftest import open_call, until

SDP = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
CANDIDATE = {
    "candidate": "candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host",
    "sdpMid": "0",
    "sdpMLineIndex": 0,
    "usernameFragment": "abcd",
}


async def test_offer_answer_candidates_and_end_of_candidates_are_relayed_in_order(
    server, connect, officer_cookie
):
    cookie, _ = await officer_cookie()
    call = await open_call(connect, server, server, cookie)

    await call.citizen.send("offer", sdp=SDP)
    await call.citizen.send("candidate", candidate=CANDIDATE)
    await call.citizen.send("candidate", candidate={**CANDIDATE, "candidate": ""})
    await call.citizen.send("candidate", candidate=None)
    await call.officer.send("answer", sdp=SDP + "a=answer\r\n")
    await call.officer.send("candidate", candidate=None)

    offer = await call.officer.expect("offer")
    assert offer["from"] == "citizen" and offer["sdp"] == SDP
    first = await call.officer.expect("candidate")
    assert first["candidate"] == CANDIDATE
    end = await call.officer.expect("candidate")
    assert end["candidate"]["candidate"] == ""
    assert (await call.officer.expect("candidate"))["candidate"] is None
    answer = await call.citizen.expect("answer")
    assert answer["sdp"].endswith("a=answer\r\n") and answer["from"] == "officer"
    assert (await call.citizen.expect("candidate"))["candidate"] is None
    # each side is told its messages are held: cumulative acks up to the last one sent
    assert (await call.citizen.expect("ack"))["seq"] <= 4
    assert call.citizen.seq == 4 and call.officer.seq == 2


async def test_a_peer_that_never_trickles_puts_its_candidates_in_the_sdp(
    server, connect, officer_cookie
):
    # aiortc (the phone bridge) sends one complete SDP and no candidate messages
    cookie, _ = await officer_cookie()
    call = await open_call(connect, server, server, cookie)
    full = (
        SDP
        + "".join(
            f"a=candidate:{i} 1 udp 2122260223 10.0.0.{i} 5000{i} typ host\r\n" for i in range(40)
        )
        + "a=end-of-candidates\r\n"
    )

    await call.officer.send("offer", sdp=full)
    offer = await call.citizen.expect("offer")
    await call.citizen.send("answer", sdp=SDP)
    await call.citizen.send("candidate", candidate=CANDIDATE)
    await call.citizen.send("candidate", candidate=None)

    assert offer["sdp"] == full
    assert (await call.officer.expect("answer"))["sdp"] == SDP
    assert (await call.officer.expect("candidate"))["candidate"] == CANDIDATE
    assert (await call.officer.expect("candidate"))["candidate"] is None


async def test_chat_is_relayed_and_reported_for_the_timeline(server, connect, officer_cookie):
    cookie, _ = await officer_cookie()
    heard = []

    async def listener(event):
        heard.append(event)

    server.server.app[HUB].add_listener(listener)
    call = await open_call(connect, server, server, cookie)

    await call.citizen.send("chat", text="میں محفوظ نہیں ہوں")
    await call.officer.send("chat", text="I am here. " * 180)

    assert (await call.officer.expect("chat"))["text"] == "میں محفوظ نہیں ہوں"
    assert (await call.citizen.expect("chat"))["text"] == "I am here. " * 180
    await until(lambda: len([e for e in heard if isinstance(e, ChatPosted)]) == 2)
    chats = [e for e in heard if isinstance(e, ChatPosted)]
    assert [(c.side, c.session_id) for c in chats] == [("citizen", "s-1"), ("officer", "s-1")]


async def test_hangup_reaches_the_peer_then_both_sides_end_and_close(
    server, connect, officer_cookie
):
    cookie, _ = await officer_cookie()
    ended = []

    async def listener(event):
        if isinstance(event, SessionEnded):
            ended.append(event)

    server.server.app[HUB].add_listener(listener)
    call = await open_call(connect, server, server, cookie)

    await call.citizen.send("chat", text="bye")
    await call.citizen.send("hangup")

    assert (await call.officer.expect("chat"))["text"] == "bye"
    assert (await call.officer.expect("hangup"))["from"] == "citizen"
    officer_end = await call.officer.expect("session-ended")
    assert officer_end["reason"] == "hangup" and officer_end["side"] == "citizen"
    acks = []
    while (frame := await call.citizen.recv())["type"] == "ack":
        acks.append(frame["seq"])
    assert acks[-1] == 2  # her hang-up was taken
    assert frame["type"] == "session-ended" and frame["reason"] == "hangup"
    assert await call.citizen.closed() == 1000
    assert await call.officer.closed() == 1000
    await until(lambda: bool(ended))
    assert ended == [SessionEnded("s-1", "hangup", "citizen")]


async def test_messages_sent_before_the_officer_joins_wait_for_her(server, connect, officer_cookie):
    cookie, _ = await officer_cookie()
    citizen_token, officer_token = await server.server.app[HUB].open_session("s-early")
    citizen = await connect(server)
    await citizen.join("s-early", citizen_token)
    await citizen.send("chat", text="is anyone there?")
    await citizen.expect("ack")

    officer = await connect(server, cookie=cookie)
    joined = await officer.join("s-early", officer_token)

    assert joined["peer"] == "connected"
    assert (await officer.expect("chat"))["text"] == "is anyone there?"
    assert (await citizen.expect("peer-joined"))["side"] == "officer"


async def test_ping_is_answered_with_pong_before_and_after_joining(server, connect):
    page = await connect(server)
    await page.send("ping", nonce=7)
    assert (await page.expect("pong"))["nonce"] == 7
    await page.send("ping")
    assert (await page.expect("pong"))["nonce"] is None
