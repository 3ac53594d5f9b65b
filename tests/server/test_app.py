from aiohttp.test_utils import TestClient


async def test_health_answers_ok_on_both_databases(client: TestClient) -> None:  # type: ignore[type-arg]
    response = await client.get("/healthz")
    assert response.status == 200
    assert await response.json() == {"status": "ok"}


async def test_unknown_api_path_is_a_json_404_in_portuguese(client: TestClient) -> None:  # type: ignore[type-arg]
    response = await client.get("/api/nao-existe")
    assert response.status == 404
    body = await response.json()
    assert body["error"]["code"] == "not_found"
    assert "não encontrado" in body["error"]["message"]
