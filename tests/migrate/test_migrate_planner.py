"""The planner's rule tables, on hand-written definitions (pure: no RabbitMQ, no NATS)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from natswire.amqp.names import SubjectMap, consumer_name
from natswire.migrate.errors import MigrationError
from natswire.migrate.plan import Plan, Problem
from natswire.migrate.planner import (
    IGNORED_ARGUMENTS,
    IGNORED_POLICY_PREFIXES,
    UNMAPPABLE_ARGUMENTS,
    UNMAPPABLE_VALUES,
    make_plan,
)
from natswire.migrate.topology import make_plan as make_plan_from_topology

NS = "ns"


def _queue(name: str = "jobs", **fields: Any) -> dict[str, Any]:
    return {"name": name, "durable": True, "auto_delete": False, "arguments": {}, **fields}


def _plan(
    raw_queues: list[dict[str, Any]],
    exchanges: list[dict[str, Any]] | None = None,
    bindings: list[dict[str, Any]] | None = None,
    policies: list[dict[str, Any]] | None = None,
    **options: Any,
) -> Plan:
    definitions = {
        "queues": raw_queues,
        "exchanges": exchanges or [],
        "bindings": bindings or [],
        "policies": policies or [],
    }
    return make_plan(definitions, namespace=NS, **options)


def _only_problem(plan: Plan) -> Problem:
    assert len(plan.problems) == 1, plan.problems
    return plan.problems[0]


def test_topology_module_still_offers_the_planner() -> None:
    assert make_plan_from_topology is make_plan


def test_mapped_arguments_become_the_queue_arguments_in_key_order() -> None:
    arguments = {
        "x-single-active-consumer": True,
        "x-queue-type": "quorum",
        "x-message-ttl": 60000,
        "x-delivery-limit": 5,
        "x-dead-letter-routing-key": "dead",
        "x-dead-letter-exchange": "dlx",
    }
    plan = _plan(
        [_queue(arguments=arguments, messages=3)], exchanges=[{"name": "dlx", "type": "direct"}]
    )
    assert plan.problems == []
    queue = plan.queue("jobs")
    assert queue.arguments == arguments
    assert list(queue.arguments) == sorted(arguments)
    assert queue.consumer == consumer_name("jobs") == "Q-jobs"
    assert queue.subject == SubjectMap.wire(NS).queue_subject("jobs") == "ns.amqp.q.jobs"
    assert queue.filters == ["ns.amqp.q.jobs"]
    assert queue.messages == 3
    assert (queue.durable, queue.auto_delete) == (True, False)


@pytest.mark.parametrize("key", sorted(IGNORED_ARGUMENTS))
def test_ignored_arguments_are_noted_and_the_queue_is_kept(key: str) -> None:
    plan = _plan([_queue(arguments={key: "v", "x-message-ttl": 5})])
    problem = _only_problem(plan)
    assert not problem.fatal
    assert (problem.kind, problem.name) == ("queue", "jobs")
    assert problem.reason == f"{key}='v' ignored: {IGNORED_ARGUMENTS[key]}"
    assert plan.queue("jobs").arguments == {"x-message-ttl": 5}


@pytest.mark.parametrize("key", sorted(UNMAPPABLE_ARGUMENTS))
def test_unmappable_arguments_are_fatal_and_drop_the_queue(key: str) -> None:
    plan = _plan([_queue(arguments={key: 10})])
    problem = _only_problem(plan)
    assert problem.fatal
    assert problem.reason == f"argument {key}=10: {UNMAPPABLE_ARGUMENTS[key]}"
    assert plan.queues == []
    assert str(problem) == f"queue 'jobs': argument {key}=10: {UNMAPPABLE_ARGUMENTS[key]}"


def test_a_stream_queue_type_is_fatal_and_the_others_map() -> None:
    plan = _plan(
        [
            _queue("s", arguments={"x-queue-type": "stream"}),
            _queue("c", arguments={"x-queue-type": "classic"}),
            _queue("q", arguments={"x-queue-type": "quorum"}),
        ]
    )
    problem = _only_problem(plan)
    assert problem.fatal and problem.name == "s"
    assert problem.reason == UNMAPPABLE_VALUES["x-queue-type"]["stream"]
    assert [q.name for q in plan.queues] == ["c", "q"]


def test_an_unknown_argument_is_fatal() -> None:
    problem = _only_problem(_plan([_queue(arguments={"x-custom": [1, 2]})]))
    assert problem.fatal
    assert problem.reason == "argument x-custom=[1, 2] is not supported by natswire.amqp"


def test_every_argument_is_judged_before_the_queue_is_dropped() -> None:
    plan = _plan([_queue(arguments={"x-max-priority": 9, "x-expires": 1, "x-queue-mode": "lazy"})])
    assert [(p.reason.split("=")[0], p.fatal) for p in plan.problems] == [
        ("argument x-expires", True),
        ("argument x-max-priority", True),
        ("x-queue-mode", False),
    ]
    assert plan.queues == []


@pytest.mark.parametrize(
    ("arguments", "reason"),
    [
        ({"x-message-ttl": -1}, "x-message-ttl must be an int >= 0, got -1"),
        (
            {"x-dead-letter-routing-key": "k"},
            "x-dead-letter-routing-key needs x-dead-letter-exchange",
        ),
        ({"x-queue-type": "weird"}, "x-queue-type 'weird' is not supported"),
        ({"x-single-active-consumer": 1}, "x-single-active-consumer must be a bool, got 1"),
    ],
)
def test_mapped_arguments_with_bad_values_are_fatal(arguments: dict[str, Any], reason: str) -> None:
    problem = _only_problem(_plan([_queue(arguments=arguments)]))
    assert problem.fatal and problem.name == "jobs"
    assert problem.reason.startswith(reason)


def test_flags_exclusive_queues_are_left_out_and_auto_delete_is_noted() -> None:
    plan = _plan(
        [
            _queue("mine", exclusive=True),
            _queue("gone", auto_delete=True, durable=False),
            _queue("both", exclusive=True, arguments={"x-max-length": 1}),
        ]
    )
    by_queue = [(p.name, p.fatal, p.reason.split(" ")[0]) for p in plan.problems]
    assert by_queue == [
        ("mine", False, "exclusive"),
        ("gone", False, "auto-delete:"),
        ("both", True, "argument"),
        ("both", False, "exclusive"),
    ]
    gone = plan.queue("gone")
    assert [q.name for q in plan.queues] == ["gone"]
    assert (gone.durable, gone.auto_delete) == (False, True)
    assert "      flags: transient, auto-delete" in plan.render()


def test_amq_queues_and_other_vhosts_are_left_out() -> None:
    plan = _plan([_queue("amq.gen-x"), _queue("here", vhost="/"), _queue("there", vhost="v2")])
    assert [q.name for q in plan.queues] == ["here"]


# ------------------------------------------------------------------- policies


def _policy(name: str, definition: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {"name": name, "pattern": "^jobs$", "priority": 0, "definition": definition, **fields}


def test_policy_keys_become_arguments_and_the_queue_s_own_win() -> None:
    definition = {"message-ttl": 1000, "dead-letter-exchange": "p-dlx", "delivery-limit": 3}
    plan = _plan(
        [_queue(arguments={"x-dead-letter-exchange": "own"})],
        exchanges=[{"name": "own", "type": "fanout"}],
        policies=[_policy("pol", definition)],
    )
    assert plan.problems == []
    queue = plan.queue("jobs")
    assert queue.arguments == {
        "x-dead-letter-exchange": "own",
        "x-delivery-limit": 3,
        "x-message-ttl": 1000,
    }
    assert queue.from_policy == {"x-message-ttl": "pol", "x-delivery-limit": "pol"}
    assert "x-message-ttl=1000 (policy pol)" in plan.render()


def test_an_unmappable_policy_key_names_its_policy() -> None:
    problem = _only_problem(_plan([_queue()], policies=[_policy("limits", {"max-length": 5})]))
    assert problem.fatal
    assert problem.reason == (
        f"argument x-max-length=5 (from policy 'limits'): {UNMAPPABLE_ARGUMENTS['x-max-length']}"
    )


@pytest.mark.parametrize("prefix", IGNORED_POLICY_PREFIXES)
def test_ignored_policy_keys_say_nothing(prefix: str) -> None:
    plan = _plan([_queue()], policies=[_policy("p", {prefix + "x": 1})])
    assert plan.problems == [] and plan.queue("jobs").arguments == {}


def test_an_unknown_policy_key_is_noted() -> None:
    problem = _only_problem(_plan([_queue()], policies=[_policy("p", {"shiny": 1})]))
    assert (problem.kind, problem.name, problem.fatal) == ("policy", "p", False)
    assert problem.reason == "key 'shiny' (applies to queue 'jobs') is ignored on NATS"


def test_the_policy_of_highest_priority_that_reaches_queues_applies() -> None:
    policies = [
        _policy("low", {"message-ttl": 1}, priority=0),
        _policy("high", {"message-ttl": 2}, priority=5),
        _policy("tie", {"message-ttl": 3}, priority=5),
        _policy("exchanges", {"message-ttl": 4}, priority=9, **{"apply-to": "exchanges"}),
        _policy("broken", {"message-ttl": 5}, priority=9, pattern="("),
        _policy("elsewhere", {"message-ttl": 6}, priority=9, pattern="^other"),
    ]
    plan = _plan([_queue()], policies=policies)
    assert plan.queue("jobs").arguments == {"x-message-ttl": 2}
    assert plan.queue("jobs").from_policy == {"x-message-ttl": "high"}


# ------------------------------------------------------------------- exchanges, bindings


def test_exchange_types_and_arguments() -> None:
    exchanges = [
        {"name": "plain"},
        {"name": "by-headers", "type": "headers"},
        {"name": "with-ae", "type": "topic", "arguments": {"alternate-exchange": "ae"}},
        {"name": "gone", "type": "fanout", "durable": False, "auto_delete": True},
        {"name": "amq.direct", "type": "direct"},
    ]
    plan = _plan([], exchanges=exchanges)
    assert [(x.name, x.type, x.durable, x.auto_delete) for x in plan.exchanges] == [
        ("gone", "fanout", False, True),
        ("plain", "direct", True, False),
    ]
    assert plan.exchange("plain").subject_prefix == "ns.amqp.x.plain"
    assert [(p.name, p.reason, p.fatal) for p in plan.problems] == [
        (
            "by-headers",
            "type 'headers' is not supported by natswire.amqp (direct, topic and fanout are)",
            True,
        ),
        (
            "with-ae",
            "alternate-exchange 'ae' is not supported (unroutable messages are dropped on NATS)",
            True,
        ),
    ]


def test_bindings_become_filters_and_what_cannot_be_bound_is_flagged() -> None:
    exchanges = [
        {"name": "events", "type": "topic"},
        {"name": "by-headers", "type": "headers"},
        {"name": "other", "type": "fanout"},
    ]
    bindings = [
        {"source": "events", "destination": "jobs", "routing_key": "a.*"},
        {"source": "events", "destination": "jobs", "routing_key": "#.b", "arguments": {"x": 1}},
        {"source": "amq.topic", "destination": "jobs", "routing_key": "c.#"},
        {"source": "", "destination": "jobs", "routing_key": "jobs"},
        {"source": "by-headers", "destination": "jobs", "routing_key": "h"},
        {"source": "nowhere", "destination": "jobs", "routing_key": "n"},
        {"source": "events", "destination": "other", "destination_type": "exchange"},
    ]
    plan = _plan([_queue()], exchanges=exchanges, bindings=bindings)
    queue = plan.queue("jobs")
    assert [(b.exchange, b.routing_key, b.filters, b.exact) for b in queue.bindings] == [
        ("events", "a.*", ["ns.amqp.x.events.a.*"], True),
        ("events", "#.b", ["ns.amqp.x.events.>"], False),
        ("amq.topic", "c.#", ["ns.amqp.x.amq%2Etopic.c", "ns.amqp.x.amq%2Etopic.c.>"], True),
    ]
    # Its own subject, then the bindings' filters with those another covers left out.
    assert queue.filters == [
        "ns.amqp.q.jobs",
        "ns.amqp.x.events.>",
        "ns.amqp.x.amq%2Etopic.c",
        "ns.amqp.x.amq%2Etopic.c.>",
    ]
    binding_problems = [(p.name, p.reason, p.fatal) for p in plan.problems if p.kind == "binding"]
    assert binding_problems == [
        ("events -> jobs ('#.b')", "binding arguments are ignored", False),
        ("by-headers -> jobs ('h')", "its exchange 'by-headers' cannot be mapped", True),
        ("nowhere -> jobs", "exchange 'nowhere' is not defined", True),
        (
            "events -> other",
            "exchange-to-exchange bindings are not supported by natswire.amqp",
            True,
        ),
    ]
    assert "(wider filter; checked per message)" in plan.render()


def test_a_missing_dead_letter_exchange_is_noted() -> None:
    plan = _plan(
        [
            _queue("a", arguments={"x-dead-letter-exchange": "missing"}),
            _queue("b", arguments={"x-dead-letter-exchange": "amq.fanout"}),
            _queue("c", arguments={"x-dead-letter-exchange": ""}),
        ]
    )
    problem = _only_problem(plan)
    assert (problem.name, problem.fatal) == ("a", False)
    assert problem.reason.startswith("dead-letter exchange 'missing' does not exist in RabbitMQ")


def test_selecting_queues_keeps_the_exchanges_they_use() -> None:
    exchanges = [
        {"name": "bound", "type": "direct"},
        {"name": "dlx", "type": "fanout"},
        {"name": "unused", "type": "headers"},
        {"name": "x1", "type": "topic"},
        {"name": "x2", "type": "topic"},
    ]
    bindings = [
        {"source": "bound", "destination": "jobs", "routing_key": "k"},
        {"source": "bound", "destination": "rest", "routing_key": "k"},
        {"source": "x1", "destination": "x2", "destination_type": "exchange"},
    ]
    queues = [_queue(arguments={"x-dead-letter-exchange": "dlx"}), _queue("rest")]
    plan = _plan(queues, exchanges=exchanges, bindings=bindings, queues="^jo")
    assert [q.name for q in plan.queues] == ["jobs"]
    assert [x.name for x in plan.exchanges] == ["bound", "dlx"]
    assert plan.problems == []
    with pytest.raises(MigrationError, match="is not a regular expression"):
        _plan(queues, queues="[")


def test_json_and_text_of_a_plan() -> None:
    plan = _plan(
        [_queue(arguments={"x-max-length": 1}), _queue("ok", messages=7)],
        exchanges=[{"name": "e", "type": "direct", "internal": True}],
    )
    as_json = json.loads(json.dumps(plan.to_json()))
    assert as_json["stream"] == plan.stream and as_json["meta_stream"] == plan.meta_stream
    assert [q["name"] for q in as_json["queues"]] == ["ok"]
    assert as_json["problems"][0]["fatal"] is True
    text = plan.render()
    assert text.startswith("RabbitMQ vhost '/' -> NATS namespace 'ns': stream ")
    assert "  e  direct internal  ->  subjects ns.amqp.x.e.<routing key>" in text
    assert "  ok  ->  consumer Q-ok  (7 messages in RabbitMQ)" in text
    assert "Cannot be mapped:\n  queue 'jobs': argument x-max-length=1" in text
    assert text.endswith("Summary: 1 exchanges, 1 queues, 0 bindings; 1 cannot be mapped, 0 notes.")
