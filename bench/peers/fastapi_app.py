"""FastAPI: the two endpoints, validated by pydantic; ``async def`` or ``def`` by variable.

``BENCH_FASTAPI_MODE=async`` (the default) declares both endpoints ``async def``, which
FastAPI runs on the event loop; ``def`` declares them plain, which FastAPI runs in its
thread pool, as its users do when they call blocking drivers.
"""

from __future__ import annotations

import os
from typing import Literal

from fastapi import FastAPI
from pydantic import BaseModel, Field

LANGUAGES = {"en": "Hello, {name}!", "fr": "Bonjour, {name}!", "es": "¡Hola, {name}!"}


class GreetingRequest(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    language: Literal["en", "fr", "es"] = "en"


class Greeting(BaseModel):
    greeting: str
    language: str


app = FastAPI()

if os.environ.get("BENCH_FASTAPI_MODE", "async") == "async":

    @app.get("/v1/greetings/{name}", response_model=Greeting)
    async def get_greeting(name: str) -> Greeting:
        return Greeting(greeting=f"Hello, {name}!", language="en")

    @app.post("/v1/greetings", response_model=Greeting, status_code=201)
    async def post_greeting(body: GreetingRequest) -> Greeting:
        return Greeting(
            greeting=LANGUAGES[body.language].format(name=body.name), language=body.language
        )

else:

    @app.get("/v1/greetings/{name}", response_model=Greeting)
    def get_greeting(name: str) -> Greeting:
        return Greeting(greeting=f"Hello, {name}!", language="en")

    @app.post("/v1/greetings", response_model=Greeting, status_code=201)
    def post_greeting(body: GreetingRequest) -> Greeting:
        return Greeting(
            greeting=LANGUAGES[body.language].format(name=body.name), language=body.language
        )
