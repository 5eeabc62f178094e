from sqlalchemy import select

from storage.models import Unit


async def test_units_round_trip(sessionmaker):
    async with sessionmaker() as session:
        session.add(Unit(name="Inspektorat"))
        await session.commit()
    async with sessionmaker() as session:
        assert (await session.scalars(select(Unit.name))).all() == ["Inspektorat"]
