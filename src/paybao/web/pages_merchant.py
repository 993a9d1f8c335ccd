"""Merchant portal (filled in below)."""

from fastapi import APIRouter

router = APIRouter(prefix="/merchant", include_in_schema=False)
