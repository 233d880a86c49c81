"""Property: whatever the dataset holds, an attributed item belongs to a snapshot business
whose key matches, and nothing crosses teams."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from businesses.platforms import PLATFORMS
from schedules.attribution import attribute_items

TEAMS = ["alice", "bob", "charlie"]
PLACE_KEYS = [f"ChIJprop{n:019d}" for n in range(12)]

# A universe of businesses: (id, team, key). Keys repeat across teams on purpose.
universe = st.lists(
    st.tuples(st.sampled_from(TEAMS), st.sampled_from(PLACE_KEYS)),
    min_size=1,
    max_size=25,
    unique=True,
).map(lambda rows: [(i + 1, team, key) for i, (team, key) in enumerate(rows)])

garbage = st.one_of(
    st.none(),
    st.integers(),
    st.text(max_size=5),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(
        st.text(max_size=4), st.one_of(st.none(), st.integers(), st.text(max_size=4)), max_size=3
    ),
    st.fixed_dictionaries({"placeId": st.one_of(st.none(), st.integers(), st.just(""))}),
)


def items_for(keys: list[str]) -> st.SearchStrategy:
    review = st.fixed_dictionaries(
        {
            "placeId": st.sampled_from([*keys, "ChIJunknown000000000000"]),
            "reviewId": st.text(alphabet="abc123", min_size=1, max_size=4),
        },
        optional={"error": st.text(min_size=1, max_size=8)},
    )
    return st.lists(st.one_of(review, garbage), max_size=60)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(data=st.data(), businesses=universe)
def test_attributed_items_never_leave_the_snapshot(data: st.DataObject, businesses: list) -> None:
    snapshot_rows = data.draw(st.lists(st.sampled_from(businesses), unique=True, min_size=1))
    snapshot = [{"business_id": b, "team_id": t, "key": k} for b, t, k in snapshot_rows]
    items = data.draw(items_for(PLACE_KEYS))
    by_id = {b: (t, k) for b, t, k in snapshot_rows}

    result = attribute_items(platform=PLATFORMS["google"], snapshot=snapshot, items=items)

    for business_id, _item_id, item in result.matched:
        assert business_id in by_id  # only snapshot businesses
        assert item["placeId"] == by_id[business_id][1]  # whose key matches the item
        assert "error" not in item
    for business_id in result.errors:
        assert business_id in by_id
    # Each item reaches exactly the snapshot businesses holding its key, in no other team.
    for business_id, _, item in result.matched:
        owners = {b for b, (_, k) in by_id.items() if k == item["placeId"]}
        teams = {by_id[b][0] for b in owners}
        assert by_id[business_id][0] in teams
    pairs = [(b, i) for b, i, _ in result.matched]
    assert len(pairs) == len(set(pairs))
    # Nothing is lost: every item is matched, kept aside, or an error of a snapshot business.
    snapshot_keys = {k for _, _, k in snapshot_rows}
    accounted = len(result.unmatched) + sum(
        1 for i in items if isinstance(i, dict) and i.get("placeId") in snapshot_keys
    )
    assert accounted == len(items)
