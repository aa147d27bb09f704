"""A run's cost: the model's prices per million tokens times the usage,
stored when the run finishes, shown in the playground's result and in
history; "—" when a price or the usage is unknown."""

import asyncio
from decimal import Decimal

import pytest
from channels.db import database_sync_to_async
from django.test import Client

from apps.history.models import Run
from apps.runs import engine, specs

pytestmark = pytest.mark.django_db(transaction=True)


def test_it_computes_a_cost_exactly(fake_model):
    fake_model.input_price_per_mtok = Decimal("0.15")
    fake_model.output_price_per_mtok = Decimal("0.60")
    # 1234 × 0.15 + 567 × 0.60 = 185.1 + 340.2 = 525.3 dollars per million.
    assert fake_model.cost(1234, 567) == Decimal("0.0005253")
    assert fake_model.cost(None, 567) is None
    fake_model.output_price_per_mtok = None
    assert fake_model.cost(1234, 567) is None


async def run_once(user, model, prompt="one two three"):
    message = {"mode": "completions", "model": str(model.uuid), "body": {"prompt": prompt}}
    spec = await database_sync_to_async(specs.from_page)(user, message)
    live, events = await engine.start_watched(spec)
    async with asyncio.timeout(10):
        async for _ in events:
            pass
    return await database_sync_to_async(
        Run.objects.select_related("conversation").get
    )(uuid=live.uuid)


def page(user, url):
    client = Client()
    client.force_login(user)
    return client.get(url).content.decode()


async def test_it_stores_and_shows_the_cost_of_a_priced_run(owner, fake_model, upstream):
    upstream.behave(chunks=["ab", "cd"])
    fake_model.input_price_per_mtok = Decimal("3")
    fake_model.output_price_per_mtok = Decimal("10")
    await database_sync_to_async(fake_model.save)()

    run = await run_once(owner, fake_model)

    # The test upstream counts 3 prompt words and 2 completion pieces.
    assert (run.prompt_tokens, run.completion_tokens) == (3, 2)
    assert run.cost == Decimal("0.000029")  # (3 × 3 + 2 × 10) / 1e6
    playground = await database_sync_to_async(page)(owner, f"/c/{run.conversation.uuid}/")
    assert '<dd class="cost">$0.000029</dd>' in playground
    history = await database_sync_to_async(page)(owner, "/history/")
    assert '<td class="cost">$0.000029</td>' in history


async def test_it_shows_a_dash_without_prices(owner, fake_model, upstream):
    run = await run_once(owner, fake_model)

    assert run.prompt_tokens is not None and run.cost is None
    detail = await database_sync_to_async(page)(owner, f"/history/runs/{run.uuid}/")
    assert '<dd class="cost">—</dd>' in detail
    history = await database_sync_to_async(page)(owner, "/history/")
    assert '<td class="cost">—</td>' in history
