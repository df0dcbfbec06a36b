import random

import pytest

from identity_access_analytics.roles import cluster, jaccard, mine_roles


@pytest.mark.parametrize("a,b,expected", [
    ({"a", "b"}, {"a", "b"}, 1.0),
    ({"a", "b"}, {"b", "c"}, 1 / 3),
    ({"a", "b", "c", "d"}, {"a"}, 0.25),
    ({"a"}, {"b"}, 0.0),
    ({"a"}, set(), 0.0),
    (set(), set(), 0.0),
])
def test_jaccard(a, b, expected):
    assert jaccard(a, b) == pytest.approx(expected)
    assert jaccard(b, a) == pytest.approx(expected)


def test_clusters_similar_users():
    a = {"u1": {"a", "b", "c"}, "u2": {"a", "b", "c"}, "u3": {"a", "b", "c", "d"},
         "u4": {"x", "y"}, "u5": {"x", "y", "z"}, "u6": {"q"}, "u7": set()}
    assert cluster(a, 0.5) == [["u1", "u2", "u3"], ["u4", "u5"], ["u6"]]  # u7 has nothing to share
    assert cluster(a, 0.7) == [["u1", "u2", "u3"], ["u4"], ["u5"], ["u6"]]
    assert cluster(a, 1.0) == [["u1", "u2"], ["u3"], ["u4"], ["u5"], ["u6"]]


def test_average_linkage_does_not_chain():
    # u3 is 0.5-similar to u2 but only 0.25 to u1: on average 0.375, so it
    # stays out (single linkage would chain it in)
    a = {"u1": {"a", "b"}, "u2": {"a", "b", "c"}, "u3": {"b", "c", "d"}}
    assert cluster(a, 0.5) == [["u1", "u2"], ["u3"]]
    assert cluster(a, 0.375) == [["u1", "u2", "u3"]]


def brute_force(assignments, threshold):
    """Textbook average linkage: recompute every mean similarity each round."""
    clusters = [[u] for u in sorted(u for u, p in assignments.items() if p)]

    def link(x, y):
        return sum(jaccard(assignments[p], assignments[q]) for p in x for q in y) / (len(x) * len(y))

    while True:
        best = None
        for i in range(len(clusters)):
            for j in range(i + 1, len(clusters)):
                x, y = sorted((clusters[i], clusters[j]), key=lambda c: c[0])
                key = (-round(link(x, y), 9), x[0], y[0])
                if -key[0] >= threshold - 1e-9 and (best is None or key < best[0]):
                    best = (key, i, j)
        if best is None:
            return sorted(clusters, key=lambda ms: (-len(ms), ms[0]))
        _, i, j = best
        merged = sorted(clusters[i] + clusters[j])
        clusters = [c for n, c in enumerate(clusters) if n not in (i, j)] + [merged]


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("threshold", [0.3, 0.5])
def test_incremental_linkage_matches_brute_force(seed, threshold):
    rng = random.Random(seed)
    perms = [f"p{i}" for i in range(24)]
    templates = [set(rng.sample(perms, 8)) for _ in range(3)]
    assignments = {}
    for n in range(14):
        base = set(rng.choice(templates))
        base -= set(rng.sample(sorted(base), rng.randint(0, 2)))
        base |= set(rng.sample(perms, rng.randint(0, 3)))
        assignments[f"user{n:02d}"] = base
    assert cluster(assignments, threshold) == brute_force(assignments, threshold)


def test_result_does_not_depend_on_input_order():
    rng = random.Random(1)
    items = [(f"u{i}", set(rng.sample("abcdefgh", 3))) for i in range(20)]
    first = cluster(dict(items), 0.4)
    rng.shuffle(items)
    assert cluster(dict(items), 0.4) == first


@pytest.mark.parametrize("threshold", [0, -0.1, 1.1])
def test_threshold_range(threshold):
    with pytest.raises(ValueError):
        cluster({"a": {"x"}}, threshold)


def test_mine_roles():
    a = {"ana": {"gl:read", "gl:post", "ap:read"}, "ben": {"gl:read", "gl:post", "ap:read"},
         "cat": {"gl:read", "gl:post", "ap:read", "ap:pay"},
         "dev": {"repo:write", "ci:run"}, "eve": {"repo:write", "ci:run", "repo:admin"},
         "fay": {"hr:read"}}
    roles, unassigned = mine_roles(a, threshold=0.6)
    assert [r.to_dict() for r in roles] == [
        {"name": "role-1", "members": ["ana", "ben", "cat"], "permissions": ["ap:read", "gl:post", "gl:read"],
         "cohesion": round((1 + 0.75 + 0.75) / 3, 4)},
        {"name": "role-2", "members": ["dev", "eve"], "permissions": ["ci:run", "repo:write"],
         "cohesion": round(2 / 3, 4)},
    ]
    assert unassigned == ["fay"]


def test_support_decides_role_permissions():
    a = {f"u{i}": {"core", "x"} if i < 3 else {"core", "y"} for i in range(5)}  # x held by 3 of 5
    assert mine_roles(a, threshold=0.3, support=1.0)[0][0].permissions == ["core"]
    assert mine_roles(a, threshold=0.3, support=0.6)[0][0].permissions == ["core", "x"]
    assert mine_roles(a, threshold=0.3, support=0.61)[0][0].permissions == ["core"]
    assert mine_roles(a, threshold=0.3, support=0.4)[0][0].permissions == ["core", "x", "y"]


def test_min_members_and_empty_roles():
    a = {"u1": {"a", "b"}, "u2": {"a", "b"}, "u3": {"a", "b"}, "v1": {"c"}, "v2": {"c"}}
    roles, unassigned = mine_roles(a, threshold=0.9, min_members=3)
    assert [r.members for r in roles] == [["u1", "u2", "u3"]]
    assert unassigned == ["v1", "v2"]
    # a triangle of pairwise overlaps clusters, but nothing is common to all
    tri = {"u1": {"a", "b"}, "u2": {"b", "c"}, "u3": {"c", "a"}}
    roles, unassigned = mine_roles(tri, threshold=0.3)
    assert roles == [] and unassigned == ["u1", "u2", "u3"]


@pytest.mark.parametrize("kwargs", [{"min_members": 1}, {"support": 0}, {"support": 1.5}])
def test_mine_roles_validation(kwargs):
    with pytest.raises(ValueError):
        mine_roles({"a": {"x"}}, **kwargs)
