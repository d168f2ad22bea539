from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/public/v1", tags=["public"])
