"""Property test: whatever a user writes, the loader raises only ScenarioError."""

from __future__ import annotations

import copy

import yaml
from hypothesis import HealthCheck, given, settings, strategies as st

from simulator.errors import ScenarioError
from simulator.scenario import load

BASE = yaml.safe_load("""
name: fuzz
duration: 10s
network:
  latency: {dist: mixture, of: [{weight: 1, dist: exponential, mean: 1ms},
                               {weight: 2, dist: empirical, percentiles: {50: 1ms, 99: 5ms}}]}
  links: [{from: api, to: db, latency: {dist: pareto, scale: 1ms, shape: 2}}]
components:
  db: {kind: database, replicas: 2, replication: sync, disk_write: {dist: normal, mean: 2ms, stddev: 1ms}}
  cache: {kind: cache, ttl: 5s, on_write: update}
  api: {kind: service, instances: 2, database: db, cache: cache, local_cache_ttl: 1s}
workload: {target: api, rate: 50, keys: 10, key_distribution: zipf}
faults:
  - {kind: partition, groups: [[api-1, cache], [api-2, db]], start: 2s, duration: 3s}
  - {kind: partition, one_way: {from: db, to: cache}, start: 1s, end: 2s}
  - {kind: degrade, from: api, to: db, latency: 10ms, loss: 0.1, start: 1s, duration: 1s}
  - {kind: slow-writes, node: db-replica-1, extra: 100ms, start: 1s, duration: 1s}
  - {kind: deploy, service: api, start: 1s, restart: 1s}
  - {kind: crash, node: cache, start: 1s, duration: 1s}
""")

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-10**20, 10**20),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=12),
    st.sampled_from(["5ms", "-1s", "1e400s", "0", "api", "db", "cache", "*", "client",
                     "exponential", "mixture", "partition", "nan", "1.5m", "2h", "50us"]),
)
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4),
    st.dictionaries(st.one_of(st.text(max_size=8), st.sampled_from(
        ["kind", "dist", "start", "duration", "end", "groups", "of", "weight"])),
        inner, max_size=4)), max_leaves=12)


def _paths(data, prefix=()):
    yield prefix
    if isinstance(data, dict):
        for key, value in data.items():
            yield from _paths(value, prefix + (key,))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            yield from _paths(value, prefix + (i,))


ALL_PATHS = [p for p in _paths(BASE) if p]


def _mutate(data, path, action, value):
    data = copy.deepcopy(data)
    parent = data
    for part in path[:-1]:
        parent = parent[part]
    last = path[-1]
    if action == "delete":
        del parent[last]
    elif action == "replace":
        parent[last] = value
    elif isinstance(parent[last], dict):
        parent[last]["surprise"] = value
    else:
        parent[last] = [parent[last], value]
    return data


def _load_only_scenario_errors(source):
    try:
        load(source)
    except ScenarioError as error:
        assert str(error)  # a message, never empty
        assert "\n" not in error.message or len(error.message) < 2000


fuzz = settings(max_examples=300, deadline=None,
                suppress_health_check=[HealthCheck.too_slow])


def test_the_base_scenario_is_valid():
    assert load(BASE).name == "fuzz"


@fuzz
@given(st.lists(st.tuples(st.sampled_from(ALL_PATHS),
                          st.sampled_from(["replace", "delete", "extend"]), values),
                min_size=1, max_size=3))
def test_mutated_scenarios_raise_only_scenario_errors(mutations):
    data = BASE
    for path, action, value in mutations:
        try:
            data = _mutate(data, path, action, value)
        except (KeyError, IndexError, TypeError):
            continue  # an earlier mutation removed this path
    _load_only_scenario_errors(data)


@fuzz
@given(values)
def test_random_documents_raise_only_scenario_errors(document):
    _load_only_scenario_errors(document if isinstance(document, dict) else {"x": document})


@fuzz
@given(st.text(max_size=200))
def test_random_text_files_raise_only_scenario_errors(tmp_path_factory, text):
    path = tmp_path_factory.mktemp("fuzz") / "s.yaml"
    path.write_text(text, encoding="utf-8")
    _load_only_scenario_errors(path)


@fuzz
@given(st.sampled_from(ALL_PATHS), values)
def test_mutated_yaml_files_raise_only_scenario_errors(tmp_path_factory, path, value):
    data = _mutate(BASE, path, "replace", value)
    try:
        text = yaml.safe_dump(data)
    except yaml.YAMLError:
        return
    file = tmp_path_factory.mktemp("fuzz") / "s.yaml"
    file.write_text(text, encoding="utf-8")
    _load_only_scenario_errors(file)
