"""The session store's rules, the same in memory and in Redis (Lua)."""

from __future__ import annotations

import asyncio
import json

import pytest
from redis.asyncio import Redis

from signaling.bus import DELIVER, ENDED, BusMessage, LocalBus, RedisBus, decode, encode
from signaling.hub import token_hash
from signaling.memory_store import MemoryStore
from signaling.redis_store import DEADLINES, RedisStore, mailbox_key, session_key
from signaling.store import Ending, Outcome, TakeOutcome

TOKENS = {"citizen": token_hash("citizen-token-0001"), "officer": token_hash("officer-token-0001")}


@pytest.fixture(params=["memory", "redis"])
async def store(request, redis_url):
    if request.param == "memory":
        yield MemoryStore(max_pending=3, idle_ttl=100, ended_ttl=10)
        return
    client = Redis.from_url(redis_url, decode_responses=True)
    yield RedisStore(client, max_pending=3, idle_ttl=100, ended_ttl=10)
    await client.aclose()


async def take(
    store, side="citizen", conn="c1", *, resume=False, token=None, last_seq=0, now=0.0, session="s"
):
    return await store.take(
        session,
        side,
        conn,
        token_hash=token or TOKENS[side],
        resume=resume,
        new_resume_hash=token_hash(f"resume-{side}-{conn}"),
        last_seq=last_seq,
        notice_body=f'"v":1,"type":"peer-joined","side":"{side}","resumed":{str(resume).lower()}}}',
        now=now,
    )


def body(text):
    return f'"v":1,"type":"chat","from":"x","text":"{text}"}}'


async def accept(store, session, side, conn, seq, text, now, notice=None):
    """One message alone (the hub hands over bursts: see the burst test)."""
    (result,) = await store.accept(session, side, conn, [(seq, text)], now, notice)
    return result


async def test_open_once_and_seats_by_token(store):
    assert await store.open("s", TOKENS, 7, 0.0) is True
    assert await store.open("s", TOKENS, None, 0.0) is False
    seat = await store.seat("s", TOKENS["officer"])
    assert seat.side == "officer" and seat.officer_id == 7
    assert await store.seat("s", token_hash("nope")) is None
    assert await store.seat("missing", TOKENS["citizen"]) is None
    assert await store.seat("s", "") is None  # no resume token yet: empty never matches


async def test_take_checks_the_token_and_notices_only_a_peer_that_joined(store):
    await store.open("s", TOKENS, None, 0.0)
    assert (await take(store, token=TOKENS["officer"])).outcome is TakeOutcome.INVALID
    first = await take(store, "citizen", "c1")
    assert (
        first.outcome is TakeOutcome.TAKEN and first.notice is None and first.peer == "not_joined"
    )
    second = await take(store, "officer", "o1")
    assert second.peer == "connected"
    assert second.notice.seq == 1 and '"peer-joined"' in second.notice.text
    assert (await store.seat("s", token_hash("resume-citizen-c1"))).side == "citizen"


async def test_accept_numbers_relays_and_refuses_what_breaks_the_rules(store):
    await store.open("s", TOKENS, None, 0.0)
    await take(store, "citizen", "c1")
    await take(store, "officer", "o1")

    one = await accept(store, "s", "citizen", "c1", 1, body("one"), 0.0)
    assert one.outcome is Outcome.ACCEPTED
    assert one.entry.seq == 1 and one.entry.text == '{"seq":1,' + body("one")
    assert (await accept(store, "s", "citizen", "c1", 1, body("one"), 0.0)).outcome is (
        Outcome.DUPLICATE
    )
    assert (await accept(store, "s", "citizen", "c1", 3, body("x"), 0.0)).outcome is (
        Outcome.OUT_OF_ORDER
    )
    assert (await accept(store, "s", "citizen", "zz", 2, body("x"), 0.0)).outcome is (
        Outcome.NOT_CURRENT
    )
    for seq in (2, 3):
        assert (await accept(store, "s", "citizen", "c1", seq, body(seq), 0.0)).outcome is (
            Outcome.ACCEPTED
        )
    full = await accept(store, "s", "citizen", "c1", 4, body("4"), 0.0)
    assert full.outcome is Outcome.BACKLOG_FULL  # max_pending=3 unacknowledged
    await store.ack("s", "officer", 1)
    assert (await accept(store, "s", "citizen", "c1", 4, body("4"), 0.0)).entry.seq == 4


async def test_a_burst_is_judged_message_by_message_in_one_step(store):
    await store.open("s", TOKENS, None, 0.0)
    await take(store, "citizen", "c1")
    await take(store, "officer", "o1")
    burst = [(1, body(1)), (1, body("again")), (3, body("early")), (2, body(2)), (3, body(3))]
    burst += [(4, body("over")), (4, body(4))]  # max_pending=3: full until she acks

    results = await store.accept("s", "citizen", "c1", burst, 0.0)

    assert [r.outcome for r in results] == [
        Outcome.ACCEPTED,
        Outcome.DUPLICATE,
        Outcome.OUT_OF_ORDER,
        Outcome.ACCEPTED,
        Outcome.ACCEPTED,
        Outcome.BACKLOG_FULL,
        Outcome.BACKLOG_FULL,
    ]
    assert [r.entry.seq for r in results if r.entry] == [1, 2, 3]
    assert [e.text for e in await store.pending("s", "officer", 0)] == [
        '{"seq":1,' + body(1),
        '{"seq":2,' + body(2),
        '{"seq":3,' + body(3),
    ]
    await store.ack("s", "officer", 3)
    more = await store.accept("s", "citizen", "c1", [(4, body(4)), (5, body(5))], 0.0)
    assert [r.entry.seq for r in more] == [4, 5]  # the page's seq 3 was the last taken
    assert [r.outcome for r in await store.accept("s", "citizen", "zz", burst, 0.0)] == [
        Outcome.NOT_CURRENT
    ] * len(burst)
    await store.end("s", "closed", None, 0.0)
    assert {r.outcome for r in await store.accept("s", "citizen", "c1", burst, 0.0)} == {
        Outcome.ENDED
    }


async def test_ack_trims_the_mailbox_and_is_clamped(store):
    await store.open("s", TOKENS, None, 0.0)
    await take(store, "citizen", "c1")
    await take(store, "officer", "o1")  # seq 1 for her: peer-joined
    for seq in (1, 2):
        await accept(store, "s", "officer", "o1", seq, body(seq), 0.0)

    assert [e.seq for e in await store.pending("s", "citizen", 0)] == [1, 2, 3]
    assert [e.seq for e in await store.pending("s", "citizen", 2)] == [3]
    await store.ack("s", "citizen", 2)
    assert [e.seq for e in await store.pending("s", "citizen", 0)] == [3]
    await store.ack("s", "citizen", 1)  # going back changes nothing
    assert [e.seq for e in await store.pending("s", "citizen", 1)] == [3]
    await store.ack("s", "citizen", 99)  # beyond what was sent: clamped
    assert await store.pending("s", "citizen", 0) == []
    await accept(store, "s", "officer", "o1", 3, body(3), 0.0)
    assert [e.seq for e in await store.pending("s", "citizen", 0)] == [4]


async def test_resume_drops_what_the_page_has_and_returns_the_rest(store):
    await store.open("s", TOKENS, None, 0.0)
    await take(store, "citizen", "c1")
    await take(store, "officer", "o1")
    for seq in (1, 2):  # her seqs 2 and 3 (1 is peer-joined)
        await accept(store, "s", "officer", "o1", seq, body(seq), 0.0)
    resume = token_hash("resume-citizen-c1")

    taken = await take(store, "citizen", "c2", resume=True, token=resume, last_seq=2)
    assert taken.outcome is TakeOutcome.TAKEN and taken.previous_conn == "c1"
    assert taken.delivered == 2 and [e.seq for e in taken.pending] == [3]
    again = await take(store, "citizen", "c3", resume=True, token=resume, last_seq=50)
    assert again.delivered == 3 and again.pending == []  # a too-high last_seq is clamped
    assert (await take(store, "citizen", "c4", resume=True, token=TOKENS["citizen"])).outcome is (
        TakeOutcome.INVALID  # the join token is not a resume token
    )


async def test_leave_expire_and_end_happen_once(store):
    await store.open("s", TOKENS, None, 0.0)
    await take(store, "citizen", "c1")
    await take(store, "officer", "o1")

    assert await store.leave("s", "citizen", "other", 10.0, '"x":1}') is None
    notice = await store.leave("s", "citizen", "c1", 10.0, '"v":1,"type":"peer-left"}')
    assert notice.seq == 1 and (await store.presence("s", "citizen")).conn == ""
    assert await store.due(5.0, 10) == []
    assert await store.due(10.0, 10) == [("s", "citizen")]
    assert await store.expire("s", "citizen", 9.0) is None  # not yet
    results = await asyncio.gather(*(store.expire("s", "citizen", 10.5) for _ in range(5)))
    assert [r for r in results if r is not None] == [Ending("dropped", "citizen")]
    presence = await store.presence("s", "officer")
    assert presence.ending.reason == "dropped" and presence.ending.side == "citizen"
    assert await store.due(100.0, 10) == []
    assert await store.end("s", "hangup", "officer", 11.0) is False
    assert (await accept(store, "s", "officer", "o1", 1, body(1), 11.0)).outcome is Outcome.ENDED


async def test_a_side_back_before_its_deadline_is_not_dropped(store):
    await store.open("s", TOKENS, None, 0.0)
    await take(store, "citizen", "c1")
    await store.leave("s", "citizen", "c1", 10.0, '"v":1}')
    await take(store, "citizen", "c2", resume=True, token=token_hash("resume-citizen-c1"))

    assert await store.due(20.0, 10) == []
    assert await store.expire("s", "citizen", 20.0) is None
    assert (await store.presence("s", "citizen")).ending is None


async def test_a_citizen_who_never_joins_ends_the_session_never_joined(store):
    await store.open("s", TOKENS, None, 0.0, join_by=30.0)
    await store.open("t", TOKENS, None, 0.0, join_by=30.0)
    await take(store, "citizen", "c1", session="t")  # she came in time
    assert await store.due(29.0, 10) == []
    assert await store.due(30.0, 10) == [("s", "citizen")]
    results = await asyncio.gather(*(store.expire("s", "citizen", 30.5) for _ in range(3)))
    assert [r for r in results if r is not None] == [Ending("never_joined", "citizen")]
    assert await store.expire("t", "citizen", 31.0) is None
    assert (await store.presence("t", "citizen")).ending is None


async def test_a_join_token_joins_once_and_a_fresh_one_can_be_armed(store):
    await store.open("s", TOKENS, None, 0.0)
    await take(store, "officer", "o1")
    replayed = await take(store, "officer", "o2")  # the same join token again
    assert replayed.outcome is TakeOutcome.INVALID
    assert (await store.presence("s", "officer")).conn == "o1"  # her page keeps the side
    assert await store.seat("s", TOKENS["officer"]) is not None  # still proves the side
    assert await store.arm("s", "officer", token_hash("fresh"), 7)
    seat = await store.seat("s", token_hash("fresh"))
    assert seat is not None and seat.officer_id == 7
    again = await take(store, "officer", "o3", token=token_hash("fresh"))
    assert again.outcome is TakeOutcome.TAKEN and again.previous_conn == "o1"


async def test_an_ended_session_answers_take_with_pending_and_its_ending(store):
    await store.open("s", TOKENS, None, 0.0)
    await take(store, "citizen", "c1")
    await take(store, "officer", "o1")
    await accept(store, "s", "officer", "o1", 1, body("bye"), 0.0)
    assert await store.end("s", "hangup", "officer", 1.0) is True

    taken = await take(store, "citizen", "c2", resume=True, token=token_hash("resume-citizen-c1"))
    assert taken.outcome is TakeOutcome.ENDED
    assert taken.ending.reason == "hangup" and taken.ending.side == "officer"
    assert [e.seq for e in taken.pending] == [1, 2]  # peer-joined, then the chat


async def test_redis_keys_expire_when_idle_and_sooner_once_ended(redis_url):
    client = Redis.from_url(redis_url, decode_responses=True)
    store = RedisStore(client, idle_ttl=100, ended_ttl=10)
    await store.open("s", TOKENS, None, 0.0)
    await take(store, "citizen", "c1")
    await take(store, "officer", "o1")
    await accept(store, "s", "citizen", "c1", 1, body(1), 0.0)
    assert 90 < await client.ttl(session_key("s")) <= 100
    assert 90 < await client.ttl(mailbox_key("s", "officer")) <= 100

    await store.end("s", "closed", None, 0.0)
    assert 0 < await client.ttl(session_key("s")) <= 10
    assert 0 < await client.ttl(mailbox_key("s", "officer")) <= 10
    assert await client.zcard(DEADLINES) == 0
    await client.aclose()


async def test_memory_forgets_idle_and_ended_sessions():
    store = MemoryStore(idle_ttl=100, ended_ttl=10)
    await store.open("idle", TOKENS, None, 0.0)
    await store.open("ended", TOKENS, None, 0.0)
    await store.end("ended", "closed", None, 50.0)
    await store.due(55.0, 10)
    assert len(store) == 2
    await store.due(61.0, 10)
    assert len(store) == 1  # ended 11 s ago
    await store.due(101.0, 10)
    assert len(store) == 0


async def test_redis_accept_publishes_deliver_to_the_peers_node_in_the_same_step(redis_url):
    client = Redis.from_url(redis_url, decode_responses=True)
    store = RedisStore(client)
    bus = RedisBus(client, channel="safecall:signaling:test-store", node_id="here")
    listener = client.pubsub(ignore_subscribe_messages=True)
    await listener.subscribe(bus.channel, f"{bus.channel}/there", bus.own_channel)
    await store.open("s", TOKENS, None, 0.0)
    await take(store, "citizen", "here/c1")
    await take(store, "officer", "there/o1")  # her page is held by another node
    text = 'سلام / \\"quoted\\" \\n \\u0001 end'  # JSON escapes
    notice = bus.deliver_notice("s", "officer")

    alone = await accept(store, "s", "citizen", "here/c1", 1, body("not asked"), 0.0)
    told = await accept(store, "s", "citizen", "here/c1", 2, body(text), 0.0, notice)
    burst = await store.accept(
        "s", "citizen", "here/c1", [(3, body(3)), (9, body("x")), (4, body(4))], 0.0, notice
    )
    refused = await accept(store, "s", "citizen", "here/c1", 9, body("x"), 0.0, notice)
    # a page held by the asking node: it delivers itself, nothing is published
    back = bus.deliver_notice("s", "citizen")
    mine = await store.accept("s", "officer", "there/o1", [(1, body("hi"))], 0.0, back)

    assert not alone.published and told.published and not refused.published
    heard = []
    for _ in range(10):  # get_message gives None for the subscriptions' confirmations too
        raw = await listener.get_message(timeout=0.5)
        if raw is not None:
            heard.append((raw["channel"], decode(raw["data"])))
    there = f"{bus.channel}/there"
    first, _, last = burst
    one = BusMessage(DELIVER, "s", "officer", told.entry.seq, told.entry.text, origin="here")
    both = BusMessage(
        DELIVER, "s", "officer", first.entry.seq, first.entry.text, [last.entry.text], "", "here"
    )
    assert heard == [(there, one), (there, both)]  # one publish per burst
    assert last.entry.seq == first.entry.seq + 1 and mine[0].published
    assert json.loads(told.entry.text)["text"] == json.loads(f'"{text}"')
    await listener.aclose()
    await client.aclose()


async def test_the_bus_leaves_publishing_to_itself_while_its_outbox_holds_messages(redis_url):
    client = Redis.from_url(redis_url, decode_responses=True)
    bus = RedisBus(client, channel="safecall:signaling:test-store")
    assert bus.deliver_notice("s", "officer") is not None
    bus._outbox.append(encode(BusMessage(ENDED, "t")))  # a publish that failed earlier
    assert bus.deliver_notice("s", "officer") is None  # so this one queues behind it, in order
    assert LocalBus().attach().deliver_notice("s", "officer") is None
    await client.aclose()


async def test_post_numbers_a_server_message_after_the_others_and_not_once_ended(store):
    await store.open("s", TOKENS, None, 0.0)
    await take(store, "citizen", "c1")
    await take(store, "officer", "o1")
    relayed = await accept(store, "s", "citizen", "c1", 1, body("one"), 0.0)
    posted = await store.post("s", "officer", body("from a colleague"))
    assert posted.seq == relayed.entry.seq + 1
    assert posted.text == '{"seq":' + str(posted.seq) + "," + body("from a colleague")
    assert [e.seq for e in await store.pending("s", "officer", 0)] == [1, 2]
    assert (await accept(store, "s", "citizen", "c1", 2, body("two"), 0.0)).entry.seq == 3
    # A seat with no citizen token: nobody joins it as her.
    assert await store.open("t", {"citizen": "", "officer": TOKENS["officer"]}, 9, 0.0)
    assert await store.seat("t", "") is None
    assert (await take(store, "citizen", "c9", token="", session="t")).outcome is (
        TakeOutcome.INVALID
    )
    assert await store.post("missing", "officer", body("x")) is None
    await store.end("s", "hangup", "citizen", 1.0)
    assert await store.post("s", "officer", body("late")) is None
