"""The Confluence Cloud simulator against atlassian-python-api (pinned in requirements.txt).

Pages, spaces and paging go through the library's Cloud v2 client (`Confluence(...,
api_version=2)`, a `ConfluenceCloud`). CQL search has no v2 endpoint: this version's v2
`search()` calls `/wiki/api/v2/search`, which Atlassian does not serve, and its Cloud v1 class
resolves `content/search` below `/wiki` without `rest/api`. The library's classic client,
whose `cql()` calls `/wiki/rest/api/search`, is what reaches the v1 search, so the search tests
use it.
"""

import pathlib
import tempfile
import warnings

import pytest
import requests
from atlassian import Confluence
from atlassian.confluence.cloud.cloud import ConfluenceCloud

from confluence_sim import BULK_PAGES, ConfluenceSim

warnings.filterwarnings("ignore", category=DeprecationWarning)


@pytest.fixture(scope="module")
def sim():
    with tempfile.TemporaryDirectory() as root:
        s = ConfluenceSim(pathlib.Path(root))
        try:
            yield s
        finally:
            s.stop()


def session(sim) -> requests.Session:
    s = requests.Session()
    s.verify = sim.ca
    return s


@pytest.fixture()
def cloud(sim) -> ConfluenceCloud:
    c = Confluence(
        url=sim.site + "/wiki",
        username=sim.user,
        password=sim.token,
        api_version=2,
        cloud=True,
        session=session(sim),
    )
    assert isinstance(c, ConfluenceCloud)
    return c


@pytest.fixture()
def classic(sim):
    return Confluence(url=sim.site + "/wiki", username=sim.user, password=sim.token, session=session(sim))


def test_get_spaces_and_space_by_key(cloud):
    keys = {s["key"] for s in cloud.get_spaces()}
    assert {"OPS", "BULK"} <= keys
    ops = cloud.get_space_by_key("OPS")
    assert ops["name"] == "Operations"
    assert cloud.get_space(ops["id"])["key"] == "OPS"


def test_get_page_by_title_and_by_id(cloud):
    found = cloud.get_page_by_title("OPS", "Restart payments API")["results"]
    assert len(found) == 1
    page = found[0]
    assert "cyberark://Prod-DB/payments-db" in page["body"]["storage"]["value"]
    by_id = cloud.get_page_by_id(page["id"], body_format="storage")
    assert (by_id["id"], by_id["title"]) == (page["id"], "Restart payments API")
    assert by_id["body"]["storage"]["value"] == page["body"]["storage"]["value"]
    assert by_id["_links"]["base"].endswith("/wiki")
    # A page restricted to platform-admins does not exist for the bridge's user.
    assert cloud.get_page_by_title("OPS", "Admins only")["results"] == []


def test_update_page_then_stale_update_conflicts(cloud):
    page = cloud.get_page_by_title("OPS", "Payments DB health")["results"][0]
    number = page["version"]["number"]
    body = page["body"]["storage"]["value"] + "<p>checked by atlassian-python-api</p>"
    updated = cloud.update_page(page["id"], title=page["title"], body=body, status="current", version=number)
    assert updated["version"]["number"] == number + 1
    again = cloud.get_page_by_id(page["id"], body_format="storage")
    assert again["body"]["storage"]["value"] == body
    with pytest.raises(requests.HTTPError) as err:
        cloud.update_page(page["id"], title=page["title"], body="<p>stale</p>", status="current", version=number)
    assert err.value.response.status_code == 409
    assert "Version must be incremented" in err.value.response.text


def test_cql_search(classic):
    hits = classic.cql("type = page AND label = runbook ORDER BY title")
    assert [r["content"]["title"] for r in hits["results"]] == ["Payments DB health", "Restart payments API"]
    assert hits["totalSize"] == 2
    text = classic.cql('space = OPS AND text ~ "AKIAZ7QX4N2LPV3KD9RT"')
    assert [r["title"] for r in text["results"]] == ["Legacy DB notes"]
    restricted = classic.cql('title = "Admins only"')
    assert restricted["results"] == []
    with pytest.raises(Exception):
        classic.cql("favourite = currentUser()")


def test_cql_paging(classic):
    seen = []
    start = 0
    while True:
        page = classic.cql("space = BULK AND type = page AND label = bulk", start=start, limit=50)
        seen.extend(r["content"]["id"] for r in page["results"])
        if "next" not in page["_links"]:
            break
        start += 50
    assert len(seen) == len(set(seen)) == BULK_PAGES


def test_paging_through_300_pages(cloud):
    space = cloud.get_space_by_key("BULK")
    pages = cloud.get_pages(space_id=space["id"], limit=25, body_format="storage")
    titles = [p["title"] for p in pages]
    assert len(titles) == len(set(titles)) == BULK_PAGES + 1  # and the homepage
    assert {f"Bulk page {n}" for n in range(1, BULK_PAGES + 1)} <= set(titles)
    assert all("<ac:structured-macro" in p["body"]["storage"]["value"] for p in pages if p["title"].startswith("Bulk page "))
