"""The framework's ceiling: FastAPI returning a small constant JSON, nothing else."""

from fastapi import FastAPI

app = FastAPI()


@app.get("/ping")
async def constant() -> dict[str, str]:
    return {"status": "ok"}
