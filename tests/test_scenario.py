"""Loading scenarios: defaults, durations, overrides, and errors that point at the line."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from simulator.errors import ScenarioError
from simulator.scenario import load

GOOD = """\
name: tiny
duration: 10s
components:
  db: {kind: database, replicas: 1}
  cache: {kind: cache, ttl: 5s}
  api: {kind: service, instances: 2, database: db, cache: cache}
workload: {target: api, rate: 50, keys: 10}
faults:
  - kind: partition
    groups: [[api-1, cache], [api-2, db]]
    start: 2s
    duration: 3s
"""


def write(tmp_path: Path, text: str, name: str = "s.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def error_of(tmp_path, text, *overrides) -> ScenarioError:
    with pytest.raises(ScenarioError) as info:
        load(write(tmp_path, text), list(overrides))
    return info.value


def test_defaults_are_filled_and_durations_become_seconds(tmp_path):
    scenario = load(write(tmp_path, GOOD))
    data = scenario.data
    assert scenario.name == "tiny"
    assert scenario.duration == 10.0
    assert data["components"]["cache"]["ttl"] == 5.0
    assert data["components"]["db"]["replication"] == "async"
    assert data["components"]["db"]["disk_write"] == {"dist": "constant", "value": 0.002}
    assert data["workload"]["timeout"] == 1.0
    fault = data["faults"][0]
    assert (fault["name"], fault["start"], fault["end"], fault["duration"]) == \
        ("partition-1", 2.0, 5.0, 3.0)
    assert scenario.nodes == {"db": ["db-primary", "db-replica-1"], "cache": ["cache"],
                              "api": ["api-1", "api-2"]}


def test_the_resolved_scenario_loads_again_unchanged(tmp_path):
    scenario = load(write(tmp_path, GOOD))
    again = load(write(tmp_path, scenario.to_yaml(), "resolved.yaml"))
    assert again.data == scenario.data


def test_overrides_by_set_and_by_keyword(tmp_path):
    path = write(tmp_path, GOOD)
    scenario = load(path, ["workload.rate=500", "faults.0.start=1s"], seed=9, duration="8s")
    assert scenario.data["workload"]["rate"] == 500.0
    assert scenario.data["faults"][0]["start"] == 1.0
    assert scenario.data["faults"][0]["end"] == 4.0
    assert scenario.seed == 9
    assert scenario.duration == 8.0
    assert load(path, workload__read_fraction=0.5).data["workload"]["read_fraction"] == 0.5


def test_file_name_line_and_path_are_in_the_message(tmp_path):
    error = error_of(tmp_path, GOOD.replace("ttl: 5s", "ttl: 5sec"))
    assert error.line == 5
    assert error.path == ("components", "cache", "ttl")
    assert str(error).startswith(f"{tmp_path / 's.yaml'}, line 5, at components.cache.ttl: ")
    assert "'5sec'" in str(error)


@pytest.mark.parametrize("change, path, line, words", [
    (("rate: 50", "rate: -5"), ("workload", "rate"), 7, "greater than 0"),
    (("keys: 10", "keys: ten"), ("workload", "keys"), 7, "whole number"),
    (("ttl: 5s", "ttl: -5s"), ("components", "cache", "ttl"), 5, "cannot be negative"),
    (("duration: 10s", "duration: 0s"), ("duration",), 2, "greater than zero"),
    (("kind: cache,", "kind: cash,"), ("components", "cache", "kind"), 5, "did you mean 'cache'"),
    (("replicas: 1", "replicas: 1, replicaz: 2"), ("components", "db", "replicaz"), 4,
     "unknown key 'replicaz'"),
    (("[api-2, db]", "[api-2, dbx]"), ("faults", 0, "groups", 1, 1), 10,
     "unknown node or component 'dbx'"),
    (("duration: 3s", "duration: 30s"), ("faults", 0), 9, "after the run ends"),
    (("start: 2s", "start: 12s"), ("faults", 0, "start"), 11, "after the run ends"),
    (("target: api", "target: cache"), ("workload", "target"), 7,
     "not a service, database or quorum component"),
    (("rate: 50", "rate: 50, read_fraction: 1.5"), ("workload", "read_fraction"), 7,
     "at most 1"),
    (("database: db,", "database: cache,"), ("components", "api", "database"), 6,
     "not a database or quorum component"),
])
def test_bad_values_are_reported_where_they_are(tmp_path, change, path, line, words):
    error = error_of(tmp_path, GOOD.replace(*change))
    assert error.path == path
    assert error.line == line
    assert words in error.message


def test_yaml_syntax_error_names_the_line(tmp_path):
    error = error_of(tmp_path, "duration: 10s\ncomponents: [a\n")
    assert error.line == 3
    assert "not valid YAML" in error.message


def test_duplicate_keys_are_an_error(tmp_path):
    error = error_of(tmp_path, GOOD + "duration: 5s\n")
    assert error.path == ("duration",)
    assert "appears twice" in error.message


def test_yaml_tags_that_build_objects_are_refused(tmp_path):
    error = error_of(tmp_path, "duration: !!python/object/apply:os.system ['true']\n")
    assert "cannot read this value" in error.message


def test_alias_bombs_are_refused(tmp_path):
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 9):
        lines.append(f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]")
    error = error_of(tmp_path, "\n".join(lines) + "\n")
    assert "too large" in error.message


@pytest.mark.parametrize("opening, closing", [("[", "]"), ("{a: ", "}")])
def test_nesting_deeper_than_the_stack_is_refused_with_its_line(tmp_path, opening, closing):
    # the YAML composer recurses a level at a time: hundreds of levels used to
    # end in a RecursionError before the depth was counted
    error = error_of(tmp_path, GOOD + "x: " + opening * 600 + "1" + closing * 600 + "\n")
    assert "too deeply nested" in error.message
    assert error.line == GOOD.count("\n") + 1
    with pytest.raises(ScenarioError, match="too deeply nested"):
        load(write(tmp_path, GOOD), ["workload.rate=" + "[" * 600 + "]" * 600])


def test_a_node_on_both_sides_of_a_partition_is_refused(tmp_path):
    # a node in two groups was cut off from both; a component and its own node
    # in two groups cut that node off from itself
    error = error_of(tmp_path, GOOD.replace("[api-2, db]", "[api-2, db, api-1]"))
    assert error.path == ("faults", 0, "groups", 1)
    assert error.line == 10
    assert "api-1 is in groups 0 and 1" in error.message
    error = error_of(tmp_path, GOOD.replace("[[api-1, cache], [api-2, db]]",
                                            "[[api-1, db], [api-2, db-primary]]"))
    assert "db-primary is in groups 0 and 1" in error.message
    error = error_of(tmp_path, GOOD.replace("groups: [[api-1, cache], [api-2, db]]",
                                            "one_way: {from: [api-1, db], to: db-replica-1}"))
    assert error.path == ("faults", 0, "one_way")
    assert "db-replica-1 would be cut off from itself" in error.message
    # '*' is everyone else: 'db hears from no one' is a valid fault
    for cut in ("one_way: {from: '*', to: db}", "groups: [[db], ['*']]"):
        scenario = load(write(tmp_path, GOOD.replace("groups: [[api-1, cache], [api-2, db]]",
                                                     cut)))
        assert scenario.data["faults"][0]["kind"] == "partition"
    # but it is everyone else on one side only
    for cut, where in (("groups: [['*'], [db], ['*', cache]]", ("faults", 0, "groups", 2)),
                       ("one_way: {from: '*', to: ['*']}", ("faults", 0, "one_way"))):
        error = error_of(tmp_path, GOOD.replace("groups: [[api-1, cache], [api-2, db]]", cut))
        assert error.path == where and "on one side only" in error.message


def test_a_fault_may_give_duration_and_end_only_if_they_agree(tmp_path):
    both = GOOD.replace("duration: 3s", "duration: 3s\n    end: 5s")
    assert load(write(tmp_path, both)).data["faults"][0]["end"] == 5.0
    error = error_of(tmp_path, both.replace("end: 5s", "end: 6s"))
    assert error.path == ("faults", 0)
    assert "'duration' and 'end' disagree (it starts at 2s, lasts 3s and ends at 6s)" \
        in error.message


def test_a_degrade_fault_that_changes_nothing_is_noted(tmp_path):
    # a note, not an error: a sweep may start from it (--over faults.0.loss=0,0.2)
    degrade = GOOD.replace("kind: partition", "kind: degrade")
    nothing = load(write(tmp_path, degrade.replace("groups: [[api-1, cache], [api-2, db]]",
                                                   "loss: 0")))
    assert len(nothing.notes) == 1
    assert "line 9, at faults[0]: a degrade fault without latency, loss or duplicate " \
        "changes nothing" in nothing.notes[0]
    assert load(write(tmp_path, degrade.replace("groups: [[api-1, cache], [api-2, db]]",
                                                "loss: 0.5"))).notes == []


def test_a_run_too_long_or_too_large_to_finish_is_refused(tmp_path):
    error = error_of(tmp_path, GOOD, "duration=1e300s")
    assert error.path == ("duration",) and "at most 1e+06s" in error.message
    error = error_of(tmp_path, GOOD, "workload.rate=1e300")
    assert error.path == ("workload", "rate")
    assert "about 1e+301 operations" in error.message and "100,000,000" in error.message
    # a closed loop's rate is not used: no limit from it
    load(write(tmp_path, GOOD), ["workload.rate=1e300", "workload.arrivals=closed"])
    load(write(tmp_path, GOOD), ["workload.rate=1e7"])  # 100 million exactly


@pytest.mark.parametrize("overrides, path", [
    # probes tick only while something is unanswered: the faults' 900 s bound them
    (["components.db.replication_retry=1us", "duration=1000s", "faults.0.duration=900s"],
     ("components", "db", "replication_retry")),
    (["components.db.failover={heartbeat: 1us}", "duration=1000s"],
     ("components", "db", "failover", "heartbeat")),
    (["faults.0={kind: failures, node: api, mttf: 1us, mttr: 1us, start: 1s, end: 900s}",
      "duration=1000s"],
     ("faults", 0)),
])
def test_a_timer_too_fast_for_the_run_to_finish_is_refused(tmp_path, overrides, path):
    error = error_of(tmp_path, GOOD, *overrides)
    assert error.path == path
    assert "a run's timers may fire at most 100,000,000 times" in error.message
    # the same timers at a sane period are fine, and a fast retry in a short fault too
    load(write(tmp_path, GOOD), ["components.db.replication_retry=1ms", "duration=1000s",
                                 "faults.0.duration=900s"])
    load(write(tmp_path, GOOD), ["components.db.replication_retry=1us", "duration=1000s"])


def test_messages_show_values_as_written(tmp_path):
    # YAML reads 2001-12-14 as a date; no scenario value is one, so the text stays
    error = error_of(tmp_path, GOOD.replace("ttl: 5s", "ttl: 2001-12-14"))
    assert "got '2001-12-14'" in error.message
    error = error_of(tmp_path, GOOD + "2001-12-14: 3\n")
    assert "unknown key '2001-12-14'" in error.message
    error = error_of(tmp_path, GOOD.replace("ttl: 5s", "ttl: {dist: uniform, low: 1s, high: 2s}"))
    assert "got a mapping (a fixed duration: no distribution here)" in error.message


def test_a_partition_needs_exactly_one_shape(tmp_path):
    error = error_of(tmp_path, GOOD.replace("    groups: [[api-1, cache], [api-2, db]]\n",
                                            "    isolate: db\n    groups: [[api-1], [db]]\n"))
    assert "exactly one of" in error.message
    assert error.path == ("faults", 0)


def test_deploy_length_comes_from_its_batches(tmp_path):
    text = GOOD.replace("""  - kind: partition
    groups: [[api-1, cache], [api-2, db]]
    start: 2s
    duration: 3s""", """  - kind: deploy
    service: api
    start: 1s
    restart: 2s
    pause: 1s""")
    fault = load(write(tmp_path, text)).data["faults"][0]
    assert fault["end"] == pytest.approx(1 + 2 + 1 + 2)


def test_override_errors_name_the_override(tmp_path):
    path = write(tmp_path, GOOD)
    with pytest.raises(ScenarioError) as info:
        load(path, ["workload.rate=fast"])
    assert "from --set workload.rate=fast" in str(info.value)
    assert info.value.line is None
    with pytest.raises(ScenarioError, match="PATH=VALUE"):
        load(path, ["workload.rate"])
    with pytest.raises(ScenarioError, match="there is no faults\\[3\\]"):
        load(path, ["faults.3.start=1s"])
    # a mapping the override makes is the override's, not the file's
    with pytest.raises(ScenarioError) as info:
        load(path, ["components.nope.ttl=5s"])
    assert "needs a 'kind' key" in info.value.message
    assert "from --set components.nope.ttl=5s" in str(info.value)
    assert info.value.line is None
    # a run shortened by --duration says so when a fault no longer fits
    with pytest.raises(ScenarioError, match=r"after the run ends \(4s, from duration='4s'\)"):
        load(path, duration="4s")
    with pytest.raises(ScenarioError, match=r"after the run ends \(4s, from --duration 4s\)"):
        load(path, duration="4s", duration_from="--duration 4s")


def test_missing_file_and_empty_file(tmp_path):
    with pytest.raises(ScenarioError, match="no such scenario file"):
        load(tmp_path / "nope.yaml")
    with pytest.raises(ScenarioError, match="the file is empty"):
        load(write(tmp_path, ""))
    with pytest.raises(ScenarioError, match="mapping"):
        load(write(tmp_path, "- just\n- a list\n"))


def test_every_bundled_scenario_is_valid():
    folder = Path(__file__).resolve().parent.parent / "scenarios"
    paths = sorted(folder.glob("*.yaml"))
    assert {p.stem for p in paths} >= {"partition", "slow-writes", "deploy"}
    for path in paths:
        scenario = load(path)
        assert scenario.description, f"{path.name} needs a one-line description"


@pytest.mark.parametrize("override, words", [
    ("name=..", "a scenario name starts with a letter"),
    ("name=a/b", "a scenario name starts with a letter"),
    ("network.latency={dist: lognormal, median: 1ms, sigma: 1000}", "at most 10"),
    ("network.latency={dist: pareto, scale: 1ms, shape: 0.001}", "at least 0.1"),
])
def test_values_that_would_break_a_run_are_refused_up_front(tmp_path, override, words):
    with pytest.raises(ScenarioError, match=words):
        load(write(tmp_path, GOOD), [override])


def test_numbers_written_without_a_dot_are_numbers(tmp_path):
    # YAML 1.1 reads 1e3 as a string; a rate is a number either way.
    assert load(write(tmp_path, GOOD), ["workload.rate=1e3"]).data["workload"]["rate"] == 1000.0
    # and a whole number too, written so or quoted, as a rate already was
    for text in ("1e3", "'1000'", "1000.0"):
        keys = load(write(tmp_path, GOOD), [f"workload.keys={text}"]).data["workload"]["keys"]
        assert keys == 1000 and isinstance(keys, int)
    for text, words in (("ten", "got 'ten'"), ("1.5", "got 1.5"), ("'1e400'", "got inf")):
        assert words in error_of(tmp_path, GOOD, f"workload.keys={text}").message


def test_a_deploy_naming_a_service_twice_lasts_as_long_as_one_pass(tmp_path):
    text = GOOD.replace("""  - kind: partition
    groups: [[api-1, cache], [api-2, db]]
    start: 2s
    duration: 3s""", """  - kind: deploy
    service: [api, api]
    start: 1s
    restart: 2s""")
    assert load(write(tmp_path, text)).data["faults"][0]["end"] == pytest.approx(1 + 2 * 2)


def test_the_scenario_reference_in_docs_is_up_to_date():
    from simulator.scenario.reference import markdown
    committed = (Path(__file__).resolve().parent.parent / "docs" / "scenario-reference.md")
    assert committed.read_text() == markdown(None) + "\n", \
        "regenerate it: simulate schema > docs/scenario-reference.md"


def test_the_reference_lists_every_component_and_fault_kind():
    from simulator.components import KINDS
    from simulator.faults import SCHEMAS
    from simulator.scenario.reference import markdown
    text = markdown(None)
    for kind in KINDS:
        assert f"## components: kind {kind}" in text
    for kind in SCHEMAS:
        assert f"## faults[]: kind {kind}" in text
    assert "| `ttl` | duration | 30s |" in markdown("cache")


@pytest.mark.parametrize("overrides, path, why", [
    (["workload.arrivals=closed"], "workload.rate", "no effect with arrivals: closed"),
    (["workload.clients=4"], "workload.clients", "no effect with arrivals: poisson"),
    (["workload.think=5ms"], "workload.think", "no effect with arrivals: poisson"),
    (["workload.zipf_exponent=1.5"], "workload.zipf_exponent",
     "no effect with key_distribution: uniform"),
    (["components.db.acks=2"], "components.db.acks", "no effect with replication: async"),
    (["components.cache.flush_delay=2s"], "components.cache.flush_delay",
     "no effect with mode: aside"),
    (["components.api.cache=", "components.api.cache_timeout=1s"],
     "components.api.cache_timeout", "no effect without a cache"),
])
def test_a_setting_that_has_no_effect_is_noted_not_refused(tmp_path, overrides, path, why):
    scenario = load(write(tmp_path, GOOD), overrides)
    assert len(scenario.notes) == 1
    assert f"at {path}: has {why}" in scenario.notes[0]


def test_notes_name_the_line_and_survive_no_replay_they_did_not_have(tmp_path):
    text = GOOD.replace("rate: 50,", "rate: 50, arrivals: closed,")
    scenario = load(write(tmp_path, text))
    assert scenario.notes == [f"{tmp_path / 's.yaml'}, line 7, at workload.rate: has no effect "
                              "with arrivals: closed (the clients and their think time set "
                              "the pace)"]
    # the resolved scenario a run saves spells out every default: still one note
    replay = load(write(tmp_path, scenario.to_yaml(), "replay.yaml"))
    assert [n.split(": ", 1)[1] for n in replay.notes] == \
        [n.split(": ", 1)[1] for n in scenario.notes]
    # a default, even written out, is no note; nor is anything in a bundled scenario
    assert load(write(tmp_path, GOOD.replace("rate: 50", "rate: 100")),
                ["workload.arrivals=closed"]).notes == []
    folder = Path(__file__).resolve().parent.parent / "scenarios"
    assert all(load(path).notes == [] for path in folder.glob("*.yaml"))
    assert load(write(tmp_path, GOOD), ["components.db.acks=2"]).notes[0].endswith(
        "(from --set components.db.acks=2)")


def test_simulator_run_warns_with_each_note(tmp_path):
    import simulator
    from simulator.errors import ScenarioNote
    with pytest.warns(ScenarioNote, match="at workload.rate: has no effect"):
        simulator.run(write(tmp_path, GOOD), overrides=["workload.arrivals=closed"])
