"""The API serves the node's views and the shared vocabulary (an in-process app, no database)."""

from __future__ import annotations

from aiohttp.test_utils import TestClient, TestServer

from events.vocabulary import as_json
from services.api.app import build_api
from services.views import Health, ServersView


class FakeNode:
    def __init__(self, healthy: bool) -> None:
        self.healthy = healthy

    def health(self) -> Health:
        return Health(node="p", healthy=self.healthy, status="Recovering", role="primary")

    def servers(self) -> ServersView:
        return ServersView(site="plant")


async def get(path: str, healthy: bool = True) -> tuple[int, object]:
    app = build_api(FakeNode(healthy), reads=None)  # type: ignore[arg-type]  # no read model asked
    async with TestClient(TestServer(app)) as client:
        response = await client.get(path)
        return response.status, await response.json()


async def test_the_vocabulary_serves_every_word_by_its_member_name():
    status, words = await get("/api/vocabulary")
    assert status == 200 and words == as_json()
    assert set(words) == {
        "server_status",
        "pair_status",
        "activity",
        "role",
        "error_code",
        "denial_reason",
        "ignored_reason",
        "order_kind",
    }
    assert words["server_status"]["RUNNING"] == "Running"
    assert words["pair_status"]["PAIRED"] == "Paired and Available"
    assert words["role"]["STANDALONE"] == "standalone"


async def test_health_is_served_as_plain_words_and_503_when_unhealthy():
    status, health = await get("/api/health", healthy=False)
    assert status == 503
    assert health["status"] == "Recovering" and health["role"] == "primary"
    assert health["healthy"] is False and health["last_rebuild"] is None
    status, _ = await get("/api/health", healthy=True)
    assert status == 200


async def test_servers_is_the_view_dumped():
    status, servers = await get("/api/servers")
    assert status == 200 and servers == ServersView(site="plant").model_dump(mode="json")
    assert servers["pair"] is None and servers["servers"] == []


async def test_a_bad_query_parameter_is_a_400_that_names_it():
    status, answer = await get("/api/denials?limit=many")
    assert status == 400
    assert answer["error"].startswith("limit: ") and "integer" in answer["error"]
    status, answer = await get("/api/usage?feature=a%00b")
    assert status == 400 and answer["error"].startswith("feature: ")
    assert "NUL" in answer["error"]
