"""Case attachments over HTTP: content-sniffed type, size cap, hash storage, case-scoped access."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import aiohttp
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.attachments.models import Attachment
from server.keys import SETTINGS
from tests.server.cases.world import make_world, open_case
from tests.support.factories import TestClientT, auth_header, count_rows

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 200
PDF = b"%PDF-1.4\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n"
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 500


def form(content: bytes, filename: str, content_type: str = "application/pdf") -> aiohttp.FormData:
    data = aiohttp.FormData()
    data.add_field("file", io.BytesIO(content), filename=filename, content_type=content_type)
    return data


async def test_a_pdf_is_stored_under_its_sha256_and_downloads_for_the_case_participants(
    client: TestClientT, sessions: async_sessionmaker[AsyncSession]
) -> None:
    world = await make_world(sessions)
    case = await open_case(client, world)
    response = await client.post(
        f"/api/cases/{case['id']}/attachments",
        data=form(PDF, "../../exame laboratorial.pdf"),
        headers=auth_header(client, world.solicitante),
    )
    body = await response.json()
    assert response.status == 201, body
    digest = hashlib.sha256(PDF).hexdigest()
    assert body["sha256"] == digest and body["content_type"] == "application/pdf"
    assert body["filename"] == "exame laboratorial.pdf"
    data_dir: Path = client.app[SETTINGS].data_dir
    assert (data_dir / "attachments" / digest).read_bytes() == PDF
    download = await client.get(body["url"], headers=auth_header(client, world.regulador))
    assert download.status == 200
    assert await download.read() == PDF
    assert download.headers["Content-Type"] == "application/pdf"
    assert download.headers["X-Content-Type-Options"] == "nosniff"


async def test_an_exe_renamed_pdf_is_refused_by_its_content_and_nothing_is_kept(
    client: TestClientT, sessions: async_sessionmaker[AsyncSession]
) -> None:
    world = await make_world(sessions)
    case = await open_case(client, world)
    response = await client.post(
        f"/api/cases/{case['id']}/attachments",
        data=form(EXE, "laudo.pdf", "application/pdf"),
        headers=auth_header(client, world.solicitante),
    )
    body = await response.json()
    assert response.status == 415
    assert body["error"]["code"] == "file_type_not_allowed"
    assert "pelo conteúdo" in body["error"]["message"]
    assert await count_rows(sessions, Attachment) == 0
    assert list((client.app[SETTINGS].data_dir / "attachments").iterdir()) == []


async def test_a_file_over_the_size_limit_is_refused_with_413_and_nothing_is_kept(
    client: TestClientT, sessions: async_sessionmaker[AsyncSession]
) -> None:
    world = await make_world(sessions)
    case = await open_case(client, world)
    limit = client.app[SETTINGS].max_upload_bytes
    response = await client.post(
        f"/api/cases/{case['id']}/attachments",
        data=form(PNG + b"\x00" * limit, "foto.png", "image/png"),
        headers=auth_header(client, world.solicitante),
    )
    body = await response.json()
    assert response.status == 413
    assert body["error"]["code"] == "file_too_large"
    assert await count_rows(sessions, Attachment) == 0
    assert list((client.app[SETTINGS].data_dir / "attachments").iterdir()) == []


async def test_an_image_named_txt_is_accepted_as_the_image_it_is(
    client: TestClientT, sessions: async_sessionmaker[AsyncSession]
) -> None:
    world = await make_world(sessions)
    case = await open_case(client, world)
    response = await client.post(
        f"/api/cases/{case['id']}/attachments",
        data=form(PNG, "lesao.txt", "text/plain"),
        headers=auth_header(client, world.solicitante),
    )
    body = await response.json()
    assert response.status == 201, body
    assert body["content_type"] == "image/png" and body["filename"] == "lesao.png"


async def test_people_outside_the_case_can_neither_upload_nor_download(
    client: TestClientT, sessions: async_sessionmaker[AsyncSession]
) -> None:
    world = await make_world(sessions)
    case = await open_case(client, world)
    uploaded = await (
        await client.post(
            f"/api/cases/{case['id']}/attachments",
            data=form(PDF, "exame.pdf"),
            headers=auth_header(client, world.solicitante),
        )
    ).json()
    for stranger in (world.outsider, world.specialist, world.gestor):
        download = await client.get(uploaded["url"], headers=auth_header(client, stranger))
        assert download.status == 404
        upload = await client.post(
            f"/api/cases/{case['id']}/attachments",
            data=form(PDF, "exame.pdf"),
            headers=auth_header(client, stranger),
        )
        assert upload.status == 404
    assert await count_rows(sessions, Attachment) == 1


async def test_a_message_can_reference_an_attachment_of_its_case_only(
    client: TestClientT, sessions: async_sessionmaker[AsyncSession]
) -> None:
    world = await make_world(sessions)
    case = await open_case(client, world)
    other = await open_case(client, world)
    uploaded = await (
        await client.post(
            f"/api/cases/{other['id']}/attachments",
            data=form(PDF, "exame.pdf"),
            headers=auth_header(client, world.solicitante),
        )
    ).json()
    response = await client.post(
        f"/api/cases/{case['id']}/messages",
        json={"client_msg_id": "a-1", "text": "", "attachment_id": uploaded["id"]},
        headers=auth_header(client, world.solicitante),
    )
    assert response.status == 422
    assert (await response.json())["error"]["code"] == "attachment_invalid"
    ok = await client.post(
        f"/api/cases/{other['id']}/messages",
        json={"client_msg_id": "a-1", "text": "", "attachment_id": uploaded["id"]},
        headers=auth_header(client, world.solicitante),
    )
    assert ok.status == 201
