"""One worker's request figures, counted in plain dicts, scrape to the very text of the library's
labelled Counter and Histogram (what several workers use): a unit test of the two side by side."""

from __future__ import annotations

import random

from prometheus_client import CollectorRegistry, generate_latest

from emulator.metrics import CountedAnswered, LibraryAnswered


def test_counted_figures_scrape_as_the_librarys_own() -> None:
    counted_registry, library_registry = CollectorRegistry(), CollectorRegistry()
    counted, library = CountedAnswered(counted_registry), LibraryAnswered(library_registry)
    draw = random.Random(7)
    edges = [0.001, 0.0025, 30.0, 0.0, 31.0, 1e-9]  # on a bound, at zero, past the last one
    for number in range(3000):
        operation = draw.choice(["api_v2_chat_completions_create", "api_v2_models_list", "api_v3_turns"])
        status = draw.choice([200, 200, 200, 400, 429, 503])
        seconds = edges[number] if number < len(edges) else draw.expovariate(200)
        counted.observe(operation, status, seconds)
        library.observe(operation, status, seconds)
    counted.observe("api_v2_embeddings_create", 200, 0.004, count=5)
    library.observe("api_v2_embeddings_create", 200, 0.004, count=5)
    text = generate_latest(counted_registry)
    assert b'paradigm_emulator_requests_total{operation="api_v2_models_list",status="200"}' in text
    assert b'le="+Inf"' in text and b"_sum" in text
    assert text == generate_latest(library_registry)
