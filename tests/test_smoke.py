import pytest


def test_chat_answers_through_the_sdk(client):
    response = client.chat.completions.create(model="alfred-4.2", messages=[{"role": "user", "content": "Hi"}])
    assert response.choices[0].message.content


@pytest.mark.anyio
async def test_async_chat(async_client):
    response = await async_client.chat.completions.create(model="alfred-4.2", messages=[{"role": "user", "content": "Hi"}])
    assert response.choices[0].finish_reason in ("stop", "length")
