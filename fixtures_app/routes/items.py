"""A small in-memory catalog: the fast, boring routes load tests lean on."""

from __future__ import annotations

from itertools import count

from fastapi import APIRouter, HTTPException, status

from fixtures_app.models import Item, NewItem

router = APIRouter(prefix="/items", tags=["items"])

_ITEMS: dict[int, Item] = {
    1: Item(id=1, name="Espresso cup", price=6.5, tags=["kitchen"]),
    2: Item(id=2, name="Pour-over kettle", price=39.0, tags=["kitchen", "coffee"]),
    3: Item(id=3, name="Burr grinder", price=129.0, tags=["coffee"]),
}
_ids = count(len(_ITEMS) + 1)


@router.get("")
async def list_items(limit: int = 50, tag: str | None = None) -> list[Item]:
    """Every item (optionally with a tag), from memory: never blocks."""
    found = [item for item in _ITEMS.values() if tag is None or tag in item.tags]
    return found[:limit]


@router.get("/{item_id}")
async def get_item(item_id: int) -> Item:
    try:
        return _ITEMS[item_id]
    except KeyError:
        raise HTTPException(status_code=status.HTTP_404_NOT_FOUND, detail=f"no item {item_id}") from None


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_item(new: NewItem) -> Item:
    item = Item(id=next(_ids), **new.model_dump())
    _ITEMS[item.id] = item
    return item
