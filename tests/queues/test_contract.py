"""The routing contract: every test runs unchanged on the in-process store and on Redis."""

from __future__ import annotations

from dataclasses import replace

import pytest

from queues import config as routing_config
from queues.events import Kind
from queues.model import Presence, TaskStatus
from queues.router import Refused, Router
from tests.queues.conftest import MakeRouter
from tests.queues.helpers import config_with, contact, drain, offered_to, online, profile
from tests.support import FakeClock

# --- hard rules ------------------------------------------------------------------------


async def test_womens_line_goes_only_to_a_female_officer_even_after_every_relaxation(
    router: Router, clock: FakeClock
) -> None:
    await online(router, profile(1, gender="male", lines=["women", "child"]))
    await router.enqueue(contact("s1", line="women"))
    assert offered_to(router, "s1") is None
    for _ in range(25):  # through every relaxation step, up to the time-to-live
        clock.advance(40)
        await router.tick()
        assert router.board.officers[1].offer is None
    assert router.placement("s1").status == TaskStatus.MISSED


async def test_male_officer_answers_the_child_line(router: Router) -> None:
    await online(router, profile(1, gender="male", lines=["women", "child"]))
    await router.enqueue(contact("s1", line="child"))
    assert offered_to(router, "s1") == 1


async def test_an_officer_gets_only_her_service_lines(router: Router, clock: FakeClock) -> None:
    await online(router, profile(1, lines=["child"]))
    await router.enqueue(contact("s1", line="women"))
    clock.advance(200)
    await router.tick()
    assert offered_to(router, "s1") is None
    await online(router, profile(2, lines=["women"]))
    assert offered_to(router, "s1") == 2


async def test_voice_takes_all_of_her_chats_share_her(router: Router) -> None:
    await online(router, profile(1))
    for n in range(1, 5):
        await router.enqueue(contact(f"c{n}", channel="chat"))
        if offered_to(router, f"c{n}") == 1:
            await router.accept(f"c{n}", 1)
    officer = router.board.officers[1]
    assert officer.load == officer.capacity  # three chats
    assert router.placement("c4").status == TaskStatus.WAITING
    await router.enqueue(contact("v1", channel="phone"))
    assert offered_to(router, "v1") is None
    await router.complete("c1", 1)  # wrap-up keeps her from offers
    assert offered_to(router, "c4") is None


async def test_a_voice_contact_is_not_offered_to_an_officer_holding_a_chat(router: Router) -> None:
    await online(router, profile(1))
    await router.enqueue(contact("c1", channel="chat"))
    await router.accept("c1", 1)
    await router.enqueue(contact("v1", channel="browser_audio"))
    assert offered_to(router, "v1") is None
    await router.enqueue(contact("c2", channel="chat"))
    assert offered_to(router, "c2") == 1


async def test_one_offer_at_a_time(router: Router) -> None:
    await online(router, profile(1))
    await router.enqueue(contact("c1", channel="chat"))
    await router.enqueue(contact("c2", channel="chat"))
    assert offered_to(router, "c1") == 1
    assert offered_to(router, "c2") is None
    await router.accept("c1", 1)
    assert offered_to(router, "c2") == 1


# --- order -----------------------------------------------------------------------------


async def test_priority_first_then_arrival(router: Router, clock: FakeClock) -> None:
    await router.enqueue(contact("plain1"))
    clock.advance(1)
    await router.enqueue(contact("violence", category="sexual_violence"))
    clock.advance(1)
    await router.enqueue(contact("plain2"))
    clock.advance(1)
    await router.enqueue(contact("emergency", emergency=True))
    assert [t.id for t in router.board.waiting("women")] == [
        "emergency",
        "violence",
        "plain1",
        "plain2",
    ]
    assert router.placement("plain1").position == 3
    await online(router, profile(1, skills={"sexual_violence": 5}))
    assert offered_to(router, "emergency") == 1


async def test_best_fit_then_longest_idle(router: Router, clock: FakeClock) -> None:
    await online(router, profile(1, languages=["ur"]))
    clock.advance(1)
    await online(router, profile(2, languages=["ur"], skills={"harassment": 4}))
    clock.advance(1)
    await online(router, profile(3, languages=["ur"], skills={"harassment": 4}, district="lahore"))
    clock.advance(1)
    await online(router, profile(4, languages=["ur"], skills={"harassment": 4}))
    await router.enqueue(contact("a", category="harassment", district="lahore"))
    assert offered_to(router, "a") == 3  # best fit: skill and district
    await router.enqueue(contact("b", category="harassment"))
    assert offered_to(router, "b") == 2  # equal fit: longest idle
    await router.enqueue(contact("c"))
    assert offered_to(router, "c") == 1


async def test_preferences_relax_with_waiting_and_the_task_keeps_its_place(
    router: Router, clock: FakeClock
) -> None:
    await online(router, profile(1, languages=["en"]))
    await router.enqueue(contact("first", language="en"))
    await router.accept("first", 1)
    await router.enqueue(contact("punjabi", language="pa"))
    clock.advance(1)
    await router.enqueue(contact("english", language="en"))
    await router.complete("first", 1)
    clock.advance(router.config.wrap_up)  # wrap-up over: nobody free speaks Punjabi
    await router.tick()
    assert offered_to(router, "punjabi") == 1  # she keeps her place, ahead of "english"


async def test_past_the_grace_a_busy_preferred_officer_does_not_hold_her(
    router: Router, clock: FakeClock
) -> None:
    await online(router, profile(1, languages=["pa"]), profile(2, languages=["en"]))
    await router.enqueue(contact("before", language="pa"))
    await router.accept("before", 1)  # the only Punjabi speaker is busy
    await router.enqueue(contact("punjabi", language="pa"))
    assert offered_to(router, "punjabi") is None  # within the grace
    clock.advance(router.config.grace)
    await router.tick()
    assert offered_to(router, "punjabi") == 2  # help first: the English speaker is free


async def test_a_free_officer_who_meets_the_preferences_still_wins(
    router: Router, clock: FakeClock
) -> None:
    await online(router, profile(1, languages=["en"]))  # idle longest
    clock.advance(10)
    await online(router, profile(2, languages=["pa"], skills={"acid_attack": 3}))
    clock.advance(60)
    await router.enqueue(contact("p", language="pa", category="acid_attack"))
    assert offered_to(router, "p") == 2
    await router.decline("p", 2)  # she declined: nobody free who meets them is left
    await router.tick()
    assert offered_to(router, "p") is None  # still within the grace
    clock.advance(router.config.grace)
    await router.tick()
    assert offered_to(router, "p") == 1


async def test_proficiency_step(router: Router, clock: FakeClock) -> None:
    await online(router, profile(1, skills={"acid_attack": 2}))
    await router.enqueue(contact("s1", category="acid_attack"))
    assert offered_to(router, "s1") is None  # asks for 3 at first, for the grace
    clock.advance(router.config.grace)
    await router.tick()
    assert offered_to(router, "s1") == 1  # nobody with 3 is free: she is offered at once


async def test_a_grace_of_zero_offers_her_at_once(make_router: MakeRouter) -> None:
    router = await make_router(config=replace(routing_config.load(), grace=0.0))
    await online(router, profile(1, skills={}))
    await router.enqueue(contact("s1", category="domestic_violence"))
    assert offered_to(router, "s1") == 1


async def test_known_officer_first_then_anyone(router: Router, clock: FakeClock) -> None:
    await online(router, profile(1), profile(2))
    await router.enqueue(contact("busy"))
    await router.accept("busy", 1)
    await router.enqueue(contact("again", known_officer=1))
    assert offered_to(router, "again") is None  # officer 2 is free but not the known one
    clock.advance(31)
    await router.tick()
    assert offered_to(router, "again") == 2


async def test_known_officer_offline_means_no_wait(router: Router) -> None:
    await router.register(profile(1))
    await online(router, profile(2))
    await router.enqueue(contact("again", known_officer=1))
    assert offered_to(router, "again") == 2


# --- offers ----------------------------------------------------------------------------


async def test_timeout_puts_the_task_back_at_its_place_not_to_the_same_officer(
    router: Router, clock: FakeClock
) -> None:
    await online(router, profile(1))
    await router.enqueue(contact("first"))
    clock.advance(1)
    await router.enqueue(contact("second"))
    assert offered_to(router, "first") == 1
    clock.advance(20)
    await router.tick()
    assert [t.id for t in router.board.waiting("women")] == ["first"]
    assert offered_to(router, "second") == 1  # not "first" again at once
    await router.decline("second", 1)
    assert router.board.officers[1].offer is None
    clock.advance(31)
    await router.tick()
    assert offered_to(router, "first") == 1  # back at the head once the pause is over


async def test_a_declined_task_goes_to_the_next_officer(router: Router) -> None:
    await online(router, profile(1), profile(2))
    await router.enqueue(contact("s1"))
    first = offered_to(router, "s1")
    assert first == 1
    await router.decline("s1", 1)
    assert offered_to(router, "s1") == 2


async def test_missed_offers_in_a_row_put_her_on_break_and_alert(
    router: Router, clock: FakeClock
) -> None:
    listener = router.listen()
    await online(router, profile(1))
    for n in range(3):
        await router.enqueue(contact(f"s{n}"))
        clock.advance(21)
        await router.tick()
    await router.sync()
    officer = router.board.officers[1]
    assert officer.presence == Presence.BREAK
    alerts = [e for e in drain(listener) if e.kind == Kind.SUPERVISOR_ALERT]
    assert len(alerts) == 1
    assert alerts[0].officer_id == 1
    assert alerts[0].data["missed"] == 3


async def test_an_accepted_offer_makes_her_busy_and_wrap_up_follows(
    router: Router, clock: FakeClock
) -> None:
    await online(router, profile(1))
    await router.enqueue(contact("s1"))
    await router.accept("s1", 1)
    now = clock().timestamp()
    assert router.board.officers[1].state(now) == "busy"
    await router.enqueue(contact("s2"))
    await router.complete("s1", 1)
    assert router.board.officers[1].state(now) == "wrap_up"
    assert offered_to(router, "s2") is None
    clock.advance(30)
    await router.tick()
    assert offered_to(router, "s2") == 1


async def test_going_available_ends_wrap_up(router: Router) -> None:
    await online(router, profile(1))
    await router.enqueue(contact("s1"))
    await router.accept("s1", 1)
    await router.enqueue(contact("s2"))
    await router.complete("s1", 1)
    await router.set_presence(1, Presence.AVAILABLE)
    assert offered_to(router, "s2") == 1


async def test_break_withdraws_the_pending_offer(router: Router) -> None:
    await online(router, profile(1), profile(2))
    await router.enqueue(contact("s1"))
    await router.set_presence(1, Presence.BREAK)
    assert offered_to(router, "s1") == 2


@pytest.mark.parametrize(
    ("action", "code"),
    [("accept", "not_offered"), ("decline", "not_offered"), ("complete", "not_yours")],
)
async def test_actions_on_someone_elses_task_are_refused(
    router: Router, action: str, code: str
) -> None:
    await online(router, profile(1), profile(2))
    await router.enqueue(contact("s1"))
    before = router.board.tasks["s1"].version
    with pytest.raises(Refused) as refused:
        await getattr(router, action)("s1", 2)
    assert refused.value.code == code
    assert router.board.tasks["s1"].version == before


async def test_accept_after_expiry_is_refused_and_the_task_moves_on(
    router: Router, clock: FakeClock
) -> None:
    await online(router, profile(1), profile(2))
    await router.enqueue(contact("s1"))
    clock.advance(25)
    with pytest.raises(Refused) as refused:
        await router.accept("s1", 1)
    assert refused.value.code == "not_offered"  # timed out first, then offered to officer 2
    assert offered_to(router, "s1") == 2


# --- ends ------------------------------------------------------------------------------


async def test_cancel_while_waiting_is_abandoned(router: Router) -> None:
    await router.enqueue(contact("s1"))
    assert await router.cancel("s1") is None
    assert router.placement("s1").status == TaskStatus.ABANDONED


async def test_cancel_while_offered_frees_the_officer_and_makes_a_callback(
    router: Router,
) -> None:
    await online(router, profile(1))
    await router.enqueue(contact("s1", callback_safe=True, channel="chat"))
    callback = await router.cancel("s1")
    assert router.placement("s1").status == TaskStatus.ABANDONED
    assert callback is not None and callback.is_callback
    assert callback.session_id == "s1" and callback.channel == "phone"
    assert offered_to(router, callback.id) == 1  # she is free again: the callback goes to her


async def test_cancel_after_answer_is_refused(router: Router) -> None:
    await online(router, profile(1))
    await router.enqueue(contact("s1"))
    await router.accept("s1", 1)
    with pytest.raises(Refused) as refused:
        await router.cancel("s1")
    assert refused.value.code == "answered"


async def test_time_to_live_makes_it_missed_with_a_callback_when_safe(
    router: Router, clock: FakeClock
) -> None:
    await router.enqueue(contact("s1", callback_safe=True))
    await router.enqueue(contact("s2"))
    clock.advance(901)
    await router.tick()
    assert router.placement("s1").status == TaskStatus.MISSED
    assert router.placement("s2").status == TaskStatus.MISSED
    assert [t.id for t in router.board.waiting("women")] == ["s1~callback"]


async def test_enqueue_is_idempotent(router: Router) -> None:
    await router.enqueue(contact("s1"))
    placement = await router.enqueue(contact("s1"))
    assert placement.position == 1
    assert len(router.board.waiting("women")) == 1
    await router.cancel("s1")
    again = await router.enqueue(contact("s1"))
    assert again.status == TaskStatus.ABANDONED


async def test_bad_contacts_are_refused_before_anything_is_written(router: Router) -> None:
    for bad in (
        contact("x", line="nope"),
        contact("x", channel="carrier_pigeon"),
        contact(""),
        contact("a#1"),
        contact("y" * 65),
        contact("x", priority=-1),
        contact("x", priority=router.config.emergency_priority),
    ):
        with pytest.raises(ValueError):
            await router.enqueue(bad)
    assert router.board.tasks == {}


async def test_an_emergency_keeps_its_priority_whatever_the_override(router: Router) -> None:
    # A number marked often as irrelevant is put in line lower; her emergency choice is not.
    await router.enqueue(contact("marked", emergency=True, priority=0))
    await router.enqueue(contact("plain", priority=0))
    tasks = router.board.tasks
    assert tasks["marked"].priority == router.config.emergency_priority
    assert tasks["plain"].priority == 0


# --- returns and transfers -------------------------------------------------------------


async def test_a_contact_that_drops_and_returns_goes_first_to_the_same_officer(
    router: Router,
) -> None:
    await online(router, profile(1), profile(2))
    await router.enqueue(contact("s1"))
    await router.accept("s1", 1)
    await router.enqueue(contact("s2"))
    assert offered_to(router, "s2") == 2
    placement = await router.returned("s1")
    assert placement.officer_id == 1 and placement.status == TaskStatus.OFFERED


async def test_transfer_to_another_line(router: Router) -> None:
    await online(router, profile(1, lines=["child"]), profile(2, gender="male", lines=["child"]))
    await router.enqueue(contact("c1", line="child"))
    await router.accept("c1", 1)
    await router.transfer("c1", 1, line="women")
    task = router.board.tasks["c1"]
    assert task.line == "women" and task.female_only
    assert offered_to(router, "c1") is None  # the only other officer is a man


async def test_a_woman_is_never_moved_to_a_line_men_answer(router: Router) -> None:
    """She came to the women's line: a transfer or a move to the child line (answered by
    men too) is refused, and she stays where she was."""
    await online(router, profile(1, lines=["women"]), profile(2, gender="male", lines=["child"]))
    await router.enqueue(contact("s1", line="women"))
    await router.accept("s1", 1)
    with pytest.raises(Refused) as refused:
        await router.transfer("s1", 1, line="child")
    assert refused.value.code == "female_only_line"
    task = router.board.tasks["s1"]
    assert (task.line, task.status, task.officer) == ("women", TaskStatus.ASSIGNED, 1)
    await router.enqueue(contact("s2", line="women"))
    with pytest.raises(Refused) as refused:
        await router.move("s2", by=99, line="child")
    assert refused.value.code == "female_only_line"
    assert router.board.tasks["s2"].line == "women"


async def test_transfer_to_a_named_officer_keeps_the_hard_rule(router: Router) -> None:
    await online(router, profile(1), profile(2, gender="male"), profile(3))
    await router.enqueue(contact("s1"))
    await router.accept("s1", 1)
    with pytest.raises(Refused) as refused:
        await router.transfer("s1", 1, to_officer=2)
    assert refused.value.code == "hard_rule"
    assert router.board.tasks["s1"].status == TaskStatus.ASSIGNED
    await router.transfer("s1", 1, to_officer=3)
    assert offered_to(router, "s1") == 3


async def test_supervisor_moves(router: Router, clock: FakeClock) -> None:
    await router.enqueue(contact("s1"))
    clock.advance(1)
    await router.enqueue(contact("s2"))
    await router.move("s2", by=99, priority=60)
    assert [t.id for t in router.board.waiting("women")] == ["s2", "s1"]
    await online(router, profile(1, gender="male"))
    with pytest.raises(Refused) as refused:
        await router.move("s1", by=99, to_officer=1)
    assert refused.value.code == "hard_rule"
    await router.enqueue(contact("c1", line="child"))
    await router.move("c1", by=99, line="women")
    assert router.board.tasks["c1"].line == "women" and offered_to(router, "c1") is None


async def test_move_to_callback_only_when_safe(router: Router) -> None:
    await router.enqueue(contact("s1"))
    with pytest.raises(Refused) as refused:
        await router.to_callback("s1", by=99)
    assert refused.value.code == "not_callback_safe"
    await router.enqueue(contact("s2", callback_safe=True))
    callback = await router.to_callback("s2", by=99)
    assert router.placement("s2").status == TaskStatus.TRANSFERRED
    assert router.placement(callback.id).status == TaskStatus.WAITING


# --- nobody there ----------------------------------------------------------------------


async def test_nobody_eligible_raises_the_alarm_and_says_so(router: Router) -> None:
    await online(router, profile(1, gender="male"))
    await router.enqueue(contact("s1", line="women"))
    women = next(s for s in router.stats() if s.line == "women")
    assert women.alarm and women.staffed == 0
    assert women.estimated_wait is None
    assert router.placement("s1").estimated_wait is None
    child = next(s for s in router.stats() if s.line == "child")
    assert not child.alarm and child.staffed == 1
    # She is free now: a new child-line contact would not wait for her.
    assert child.estimated_wait == 0


# --- events ----------------------------------------------------------------------------


async def test_every_transition_is_one_event_with_a_unique_id(
    router: Router, clock: FakeClock
) -> None:
    listener = router.listen()
    await online(router, profile(1), profile(2))
    await router.enqueue(contact("s1", callback_safe=True))
    await router.decline("s1", 1)
    clock.advance(21)
    await router.tick()  # officer 2 times out
    clock.advance(31)
    await router.tick()
    await router.accept("s1", 1)
    await router.complete("s1", 1)
    await router.enqueue(contact("s2", callback_safe=True))
    await router.cancel("s2")
    await router.sync()
    events = drain(listener)
    assert len({e.id for e in events}) == len(events)
    s1 = [e.kind for e in events if e.task_id == "s1"]
    assert s1 == [
        "enqueued",
        "offered",
        "declined",
        "offered",
        "offer_timed_out",
        "offered",
        "accepted",
        "completed",
    ]
    s2 = [e.kind for e in events if e.task_id == "s2"]
    assert s2 == ["enqueued", "offered", "abandoned"]  # offered to officer 2, then she left
    callback = [e for e in events if e.task_id == "s2~callback"]
    assert [e.kind for e in callback] == ["enqueued", "offered"]  # officer 2 is free again
    assert callback[0].session_id == "s2"


async def test_a_consumer_group_gets_every_event_again_until_it_acknowledges(
    router: Router,
) -> None:
    await router.enqueue(contact("s1"))
    await router.enqueue(contact("s2"))
    first = await router.store.read_events("timeline", "a", 10, 0.01)
    assert [e.id for e in first] == ["s1#1", "s2#1"]
    await router.store.ack("timeline", ["s1#1"])
    assert await router.store.read_events("timeline", "a", 10, 0.01) == []
    import asyncio

    await asyncio.sleep(0.3)  # past redeliver_after: a consumer that died left s2 unacknowledged
    again = await router.store.read_events("timeline", "b", 10, 0.01)
    assert [e.id for e in again] == ["s2#1"]
    await router.store.ack("timeline", ["s2#1"])
    await router.enqueue(contact("s3"))
    assert [e.id for e in await router.store.read_events("timeline", "b", 10, 0.01)] == ["s3#1"]


async def test_offers_reach_the_officers_console(router: Router) -> None:
    await online(router, profile(1))
    console = router.listen(officer_id=1)
    await router.enqueue(contact("s1", silent=True, channel="chat"))
    await router.sync()
    offers = [e for e in drain(console) if e.kind == Kind.OFFERED]
    assert len(offers) == 1
    assert offers[0].task_id == "s1"
    assert offers[0].data["silent"] is True and offers[0].data["channel"] == "chat"
    assert offers[0].data["expires"] > 0
    console.close()


# --- statistics ------------------------------------------------------------------------


async def test_statistics(router: Router, clock: FakeClock) -> None:
    await online(router, profile(1))
    await router.enqueue(contact("a"))
    clock.advance(10)
    await router.accept("a", 1)  # waited 10 s: within the 20 s service level
    await router.enqueue(contact("b"))
    await router.enqueue(contact("c"))
    clock.advance(40)
    await router.cancel("b")
    await router.complete("a", 1)
    clock.advance(31)
    await router.tick()  # "c" is offered after 71 s
    await router.accept("c", 1)
    await router.enqueue(contact("d"))
    await router.sync()
    women = next(s for s in router.stats(with_tasks=True) if s.line == "women")
    assert (women.answered, women.abandoned, women.missed) == (2, 1, 0)
    assert women.service_level == pytest.approx(1 / 3)
    assert women.abandonment_rate == pytest.approx(1 / 3)
    assert women.average_wait == pytest.approx((10 + 71) / 2)
    assert women.waiting == 1 and women.tasks[0].task_id == "d" and women.tasks[0].position == 1
    assert women.officers["busy"] == 1
    assert women.estimated_wait is not None and women.estimated_wait > 0


async def test_statistics_live_in_the_store_so_a_fresh_router_reports_the_same(
    make_router: MakeRouter, store_kind: str, clock: FakeClock
) -> None:
    first = await make_router()
    await online(first, profile(1))
    await first.enqueue(contact("a"))
    clock.advance(10)
    await first.accept("a", 1)  # waited 10 s
    await first.enqueue(contact("b"))
    await first.enqueue(contact("c"))
    clock.advance(40)
    await first.cancel("b")
    await first.complete("a", 1)  # handled 40 s
    await first.sync()
    seen = first.stats(with_tasks=True)
    await first.stop()
    # A restarted process (Redis: a new store on the same Redis; in-process: a new
    # router on the same store) reports the same figures, none of them seen by it.
    if store_kind == "redis":
        fresh = await make_router()
    else:
        fresh = Router(first.store, first.config, clock)
        await fresh.start(background=False)
    try:
        women = next(s for s in fresh.stats(with_tasks=True) if s.line == "women")
        assert (women.answered, women.abandoned, women.missed) == (1, 1, 0)
        assert women.average_wait == pytest.approx(10)
        assert women.abandonment_rate == pytest.approx(1 / 2)
        assert fresh.stats(with_tasks=True) == seen
        clock.advance(3601)  # past the window: the outcomes drop out
        women = next(s for s in fresh.stats() if s.line == "women")
        assert (women.answered, women.abandoned, women.service_level) == (0, 0, None)
    finally:
        await fresh.stop()


# --- several routers on one store (Redis only) -----------------------------------------


async def test_two_routers_share_the_work(make_router: MakeRouter, store_kind: str) -> None:
    if store_kind != "redis":
        pytest.skip("several processes share a store only through Redis")
    first = await make_router()
    second = await make_router()
    await online(first, profile(1))
    await second.sync()
    await second.enqueue(contact("s1"))
    await first.sync()
    assert offered_to(first, "s1") == 1
    await first.accept("s1", 1)
    await second.sync()
    assert second.board.tasks["s1"].status == TaskStatus.ASSIGNED


async def test_an_offer_left_by_a_dead_router_expires_elsewhere(
    make_router: MakeRouter, store_kind: str, clock: FakeClock
) -> None:
    if store_kind != "redis":
        pytest.skip("several processes share a store only through Redis")
    dying = await make_router()
    await online(dying, profile(1), profile(2))
    await dying.enqueue(contact("s1"))
    assert offered_to(dying, "s1") == 1
    await dying.stop()
    survivor = await make_router()  # starts after: loads the state
    clock.advance(21)
    await survivor.tick()
    assert offered_to(survivor, "s1") == 2


async def test_config_from_helper_changes_the_offer_timeout(make_router: MakeRouter) -> None:
    quick = config_with(offers="[offers]\ntimeout = 5\nno_answer_limit = 1\nreoffer_after = 0")
    router = await make_router(config=quick)
    await online(router, profile(1))
    await router.enqueue(contact("s1"))
    assert router.board.tasks["s1"].offer_expires - router.board.tasks["s1"].arrived == 5


# --- the store's own checks (whatever the caller asks) ---------------------------------


async def test_the_store_refuses_an_offer_that_breaks_a_hard_rule(
    router: Router, clock: FakeClock
) -> None:
    await online(
        router,
        profile(1, gender="male", lines=["women", "child"]),
        profile(2, lines=["child"]),
    )
    await router.enqueue(contact("s1", line="women"))
    now = clock().timestamp()
    store = router.store
    assert (await store.reserve("s1", 1, now, now + 20)).reason == "hard_rule"
    assert (await store.reserve("s1", 2, now, now + 20)).reason == "hard_rule"
    assert (await store.reserve("s1", 99, now, now + 20)).reason == "unknown_officer"
    assert (await store.reserve("nope", 1, now, now + 20)).reason == "unknown_task"
    tasks, officers = await store.snapshot()
    assert tasks["s1"].status == TaskStatus.WAITING
    assert officers[1].offer is None and officers[2].offer is None


async def test_the_store_refuses_a_busy_or_excluded_officer(
    router: Router, clock: FakeClock
) -> None:
    await online(router, profile(1), profile(2))
    await router.enqueue(contact("s1"))
    await router.enqueue(contact("s2"))
    now = clock().timestamp()
    store = router.store
    assert (await store.reserve("s2", 1, now, now + 20)).reason == "task_not_waiting"
    await router.decline("s2", 2)  # s2 goes back, officer 2 is shut out of it for a while
    assert offered_to(router, "s2") is None
    assert (await store.reserve("s2", 2, now, now + 20)).reason == "excluded"
    await router.accept("s1", 1)
    await router.enqueue(contact("s3"))
    assert offered_to(router, "s3") == 2
    await router.decline("s3", 2)
    assert (await store.reserve("s3", 1, now, now + 20)).reason == "officer_not_free"


async def test_a_timeout_is_not_taken_before_it_is_due(router: Router, clock: FakeClock) -> None:
    await online(router, profile(1))
    await router.enqueue(contact("s1"))
    now = clock().timestamp()
    early = await router.store.release(
        "s1", 1, now + 5, kind=Kind.OFFER_TIMED_OUT, exclude_until=0, no_answer_limit=3
    )
    assert early.reason == "not_due"
    missed = await router.store.end("s1", now, status=TaskStatus.MISSED, callback=None)
    assert missed.reason == "not_due"
    assert offered_to(router, "s1") == 1


async def test_a_step_that_frees_an_officer_checks_the_offer_it_makes_next_again(
    router: Router, clock: FakeClock
) -> None:
    store, now = router.store, clock().timestamp()
    await online(router, profile(1, gender="male", lines=["women", "child"]))
    await router.enqueue(contact("c1", line="child"))
    await router.accept("c1", 1)
    await router.enqueue(contact("w1", line="women"))  # he may never take it
    await router.enqueue(contact("c2", line="child"))  # he is busy: it waits
    await router.sync()
    listener = router.listen()
    done = await store.complete("c1", 1, now, now, next_task="w1", expires=now + 20)
    assert done.ok and done.offered is None  # completed; the offer refused (hard rule)
    tasks, officers = await store.snapshot()
    assert "c1" not in tasks and tasks["w1"].status == TaskStatus.WAITING
    assert officers[1].offer is None and officers[1].load == 0
    await router.sync()
    assert [e.kind for e in drain(listener)] == ["completed"]
    # She declines c2; the step then offers w1 (refused again), then c2 is not hers.
    assert (await store.reserve("c2", 1, now, now + 20)).ok
    declined = await store.release(
        "c2",
        1,
        now,
        kind=Kind.DECLINED,
        exclude_until=now + 30,
        no_answer_limit=3,
        next_task="w1",
        expires=now + 20,
    )
    assert declined.ok and declined.offered is None
    away = await store.set_presence(1, Presence.BREAK, now, exclude_until=0.0)
    assert away.ok
    back = await store.set_presence(
        1, Presence.AVAILABLE, now, exclude_until=0.0, next_task="w1", expires=now + 20
    )
    assert back.ok and back.offered is None
    tasks, officers = await store.snapshot()
    assert tasks["w1"].status == TaskStatus.WAITING and officers[1].offer is None
    # A next offer the rules allow is made in the same step, after the step's own event.
    again = await store.set_presence(1, Presence.BREAK, now, exclude_until=0.0)
    assert again.ok
    back = await store.set_presence(
        1, Presence.AVAILABLE, now + 31, exclude_until=0.0, next_task="c2", expires=now + 51
    )
    assert back.offered is not None and back.offered.id == "c2"
    tasks, officers = await store.snapshot()
    assert tasks["c2"].status == TaskStatus.OFFERED and officers[1].offer == "c2"
    await router.sync()
    assert [e.kind for e in drain(listener)][-2:] == ["officer_state", "offered"]


async def test_a_sweep_offers_in_line_order_to_everyone_free(
    router: Router, clock: FakeClock
) -> None:
    store, now = router.store, clock().timestamp()
    for n in (1, 2, 3):
        await router.register(profile(n, languages=["ur"] if n < 3 else ["en"]))
    for task_id in ["a", "b", "c", "d"]:
        clock.advance(1)
        await router.enqueue(contact(task_id, language="en" if task_id == "c" else "ur"))
    for n in (1, 2, 3):  # back at once, straight in the store: nothing offered yet
        await store.set_presence(n, Presence.AVAILABLE, now, exclude_until=0.0)
    assert all(t.status == TaskStatus.WAITING for t in router.board.tasks.values())
    assert await router.sweep() == 3
    assert [offered_to(router, t) for t in ["a", "b", "c", "d"]] == [1, 2, 3, None]
    assert await router.sweep() == 0
