"""Small database fixtures written through the models (not the importer under test)."""

from __future__ import annotations

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.models import Employee, Unit

NIP_SUPERVISOR = "197501012000031001"
NIP_STAFF = "198609262015051001"


async def add_unit_with_staff(
    sessionmaker: async_sessionmaker[AsyncSession],
    *,
    staff_name: str = "Rina Marlina, S.E.",
    staff_telegram_id: int | None = None,
    supervisor_telegram_id: int | None = None,
    supervisor_is_hr_admin: bool = False,
) -> tuple[int, int]:
    """A unit with a supervisor and one report; returns (supervisor id, staff id)."""
    async with sessionmaker() as session, session.begin():
        unit = Unit(name="Dinas Perhubungan")
        boss = Employee(
            nip=NIP_SUPERVISOR,
            name="Ir. Yusuf Datuak Rajo Mudo",
            position="Kepala Dinas Perhubungan",
            rank="IV/c",
            unit=unit,
            telegram_user_id=supervisor_telegram_id,
            role="hr_admin" if supervisor_is_hr_admin else "asn",
        )
        staff = Employee(
            nip=NIP_STAFF,
            name=staff_name,
            position="Analis Transportasi",
            rank="III/b",
            unit=unit,
            supervisor=boss,
            phone="6281234567890",
            telegram_user_id=staff_telegram_id,
        )
        session.add_all([unit, boss, staff])
        await session.flush()
        return boss.id, staff.id


NIP_TARGET_HEAD = "197203152000031002"
NIP_TARGET_CLERK = "199001012015051003"


def add_target_unit(
    session: AsyncSession, *, head_telegram_id: int | None = None, clerk_name: str = "Andi"
) -> tuple[Unit, Employee, Employee]:
    """Bappeda, where mutations go: its head supervises one clerk; returns (unit, head, clerk).

    Added to ``session`` (the caller flushes or commits).
    """
    unit = Unit(name="Bappeda")
    head = Employee(
        nip=NIP_TARGET_HEAD,
        name="Dra. Fitri Yanti",
        position="Kepala Bappeda",
        unit=unit,
        telegram_user_id=head_telegram_id,
    )
    clerk = Employee(
        nip=NIP_TARGET_CLERK,
        name=clerk_name,
        position="Pengadministrasi",
        unit=unit,
        supervisor=head,
    )
    session.add_all([unit, head, clerk])
    return unit, head, clerk


async def add_linked_office(
    sessionmaker: async_sessionmaker[AsyncSession],
    *,
    people: int,
    first_chat: int,
    unit_name: str = "Sekretariat Daerah Kota Bukittinggi",
    nip_prefix: str = "19850101201001",
) -> dict[int, int]:
    """One unit of ``people`` linked employees, the first an HR admin (chat ``first_chat``),
    the others staff (the next chats); written in one bulk insert. Employee id -> chat, in
    the order of the chats."""
    async with sessionmaker() as session, session.begin():
        unit = Unit(name=unit_name)
        session.add(unit)
        await session.flush()
        rows = [
            {
                "nip": f"{nip_prefix}{n:04d}",
                "name": "Admin BKPSDM" if n == 0 else f"Pegawai {n:04d}",
                "position": "Analis SDM" if n == 0 else "Staf",
                "unit_id": unit.id,
                "role": "hr_admin" if n == 0 else "asn",
                "telegram_user_id": first_chat + n,
            }
            for n in range(people)
        ]
        await session.execute(insert(Employee), rows)
        found = await session.execute(
            select(Employee.id, Employee.telegram_user_id)
            .where(Employee.unit_id == unit.id)
            .order_by(Employee.telegram_user_id)
        )
        return {employee_id: chat for employee_id, chat in found}
