"""Role mining: users with similar permission sets become candidate roles.

Similarity of two users is the Jaccard index of their permission sets,
``|A & B| / |A | B|``. Users are clustered bottom-up (agglomerative,
*average linkage*): start with one cluster per user and repeatedly merge
the two clusters whose mean pairwise similarity is highest, as long as it
is at least ``threshold``. Average linkage is updated in O(1) per pair by
the Lance-Williams formula, and the best pair comes from a heap with lazy
deletion, so mining is O(n^2 log n) rather than O(n^3).

A cluster of at least ``min_members`` users becomes a role whose
permissions are those held by at least ``support`` of its members (1.0:
held by all). Users without permissions take no part. Ties break by user
id, so the same snapshot always mines the same roles.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass
from typing import AbstractSet, Any, Mapping


def jaccard(a: AbstractSet[str], b: AbstractSet[str]) -> float:
    """Jaccard similarity; two empty sets share nothing worth a role, so 0."""
    union = len(a | b)
    return len(a & b) / union if union else 0.0


@dataclass
class Role:
    name: str
    members: list[str]
    permissions: list[str]
    cohesion: float  # mean pairwise Jaccard similarity of the members

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "members": self.members, "permissions": self.permissions,
                "cohesion": round(self.cohesion, 4)}


def cluster(assignments: Mapping[str, AbstractSet[str]], threshold: float) -> list[list[str]]:
    """Average-linkage clusters (sorted member lists) of users with permissions."""
    if not 0.0 < threshold <= 1.0:
        raise ValueError("threshold must be in (0, 1]")
    floor = threshold - 1e-9  # merged similarities are float averages
    users = sorted(u for u, perms in assignments.items() if perms)
    members: dict[int, list[str]] = {i: [u] for i, u in enumerate(users)}
    sim: dict[int, dict[int, float]] = {i: {} for i in members}
    heap: list[tuple[float, str, str, int, int]] = []
    for i in range(len(users)):
        for j in range(i + 1, len(users)):
            s = jaccard(assignments[users[i]], assignments[users[j]])
            sim[i][j] = sim[j][i] = s
            if s >= floor:
                heapq.heappush(heap, (-s, users[i], users[j], i, j))
    next_id = len(users)
    while heap:
        neg, _, _, i, j = heapq.heappop(heap)
        if i not in members or j not in members:
            continue  # stale: one side was merged away
        k, next_id = next_id, next_id + 1
        ni, nj = len(members[i]), len(members[j])
        members[k] = sorted(members.pop(i) + members.pop(j))
        sim[k] = {}
        for m in members:
            if m == k:
                continue
            s = (ni * sim[m].pop(i) + nj * sim[m].pop(j)) / (ni + nj)  # Lance-Williams
            sim[k][m] = sim[m][k] = s
            if s >= floor:
                a, b = sorted((k, m), key=lambda c: members[c][0])
                heapq.heappush(heap, (-s, members[a][0], members[b][0], a, b))
        del sim[i], sim[j]
    return sorted(members.values(), key=lambda ms: (-len(ms), ms[0]))


def mine_roles(assignments: Mapping[str, AbstractSet[str]], threshold: float = 0.6,
               min_members: int = 2, support: float = 1.0) -> tuple[list[Role], list[str]]:
    """``(roles, unassigned users)``; roles are named role-1, role-2, ... largest first."""
    if min_members < 2:
        raise ValueError("min_members must be at least 2")
    if not 0.0 < support <= 1.0:
        raise ValueError("support must be in (0, 1]")
    roles: list[Role] = []
    unassigned: list[str] = []
    for group in cluster(assignments, threshold):
        perms = _supported(group, assignments, support)
        if len(group) < min_members or not perms:
            unassigned.extend(group)
            continue
        pairs = [(a, b) for n, a in enumerate(group) for b in group[n + 1:]]
        cohesion = sum(jaccard(assignments[a], assignments[b]) for a, b in pairs) / len(pairs)
        roles.append(Role(f"role-{len(roles) + 1}", group, perms, cohesion))
    return roles, sorted(unassigned)


def _supported(group: list[str], assignments: Mapping[str, AbstractSet[str]], support: float) -> list[str]:
    counts: dict[str, int] = {}
    for user in group:
        for p in assignments[user]:
            counts[p] = counts.get(p, 0) + 1
    # a small epsilon so that e.g. support 0.6 of 5 members means 3, not 4
    need = math.ceil(support * len(group) - 1e-9)
    return sorted(p for p, n in counts.items() if n >= need)
