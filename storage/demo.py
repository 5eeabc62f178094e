"""A realistic demo data set for Kota Bukittinggi (``run_bot.py demo``).

``load_demo`` fills an empty database (no employees yet) in one transaction with:

* the 19 sample units of DESIGN.md section 3 and a supervisor tree in each
  (unit head -> 2-4 mid-level officials -> staff; unit heads report to the Sekretaris
  Daerah, who reports to nobody), about 15 % PPPK, valid NIPs and unique phones;
* about 36 mutations covering every stage, each with a consistent stage history
  recorded by the HR admin; the history counts as told (``notified_at`` = the change's
  time), so loading the demo pushes nothing;
* 8 training sessions, past ones with attendance, upcoming ones in the next weeks;
* the last three monthly SKP periods (locked, mostly submitted) and the current one
  (open, a few drafts, most not started);
* one ``demo_load`` audit row.

Evaluations are by the current direct supervisor; a month that began before a completed
move took effect (TMT) of the employee or of the supervisor is left without one. A draft's
``current_step`` is the BerAKHLAK key to be rated next.

Everything comes from ``random.Random(seed)`` and ``today``, so the same arguments give
the same data. The well-known people of :data:`DEMO_PEOPLE` have fixed NIPs (whatever
the seed) so a demo script can refer to them.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from itertools import pairwise
from typing import Any, ClassVar

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.rules.nip import EmployeeType, check_nip
from bot.rules.phone import normalize_phone
from bot.rules.skp import (
    BERAKHLAK,
    NEEDS_COACHING,
    Predicate,
    Rating,
    predicate,
    summarise_behaviour,
)
from bot.rules.stages import MutationType, Stage, timeline
from storage.models import (
    AuditLog,
    Employee,
    Evaluation,
    EvaluationPeriod,
    Mutation,
    MutationEvent,
    Training,
    TrainingParticipant,
    Unit,
)

__all__ = ["DEMO_PEOPLE", "DemoSummary", "load_demo"]

WIB = dt.timezone(dt.timedelta(hours=7), "WIB")
MIN_EMPLOYEES = 100
RECENT_MOVE_DAYS = 90
DEMO_ACTOR = "demo"


@dataclass(frozen=True, slots=True)
class DemoSummary:
    """What ``load_demo`` wrote (or, when ``created`` is False, what the database holds)."""

    units: int
    employees: int
    supervisors: int
    mutations: int
    trainings: int
    participants: int
    evaluations: int
    created: bool


# --------------------------------------------------------------------------- reference data


@dataclass(frozen=True, slots=True)
class _UnitSpec:
    name: str
    weight: int
    head: str
    # Mid-level posts; the first two are always filled, the rest may stay vacant.
    mids: tuple[str, ...]
    staff: tuple[str, ...]
    # Name templates for the head and mid-level officials ("{n}" is the name).
    leader_titles: tuple[str, ...]


_KEL_GP = (
    "Bukit Cangang Kayu Ramang",
    "Tarok Dipo",
    "Pakan Kurai",
    "Aur Tajungkang Tangah Sawah",
    "Benteng Pasar Atas",
    "Kayu Kubu",
)
_KEL_MKS = ("Pulai Anak Air", "Koto Selayan", "Garegeh", "Manggis Ganting", "Campago Ipuh")
_KEL_ABTB = ("Belakang Balok", "Sapiran", "Birugo", "Aur Kuning", "Pakan Labuah", "Kubu Tanjung")

_KECAMATAN_STAFF = (
    "Kepala Seksi Pemerintahan",
    "Kepala Seksi Ketenteraman dan Ketertiban Umum",
    "Kepala Seksi Pemberdayaan Masyarakat",
    "Pengelola Layanan Kependudukan",
    "Pranata Komputer Terampil",
    "Pengadministrasi Umum",
)

_UNITS: tuple[_UnitSpec, ...] = (
    _UnitSpec(
        "Sekretariat Daerah",
        28,
        "Sekretaris Daerah",
        (
            "Asisten Pemerintahan dan Kesejahteraan Rakyat",
            "Asisten Administrasi Umum",
            "Asisten Perekonomian dan Pembangunan",
            "Kepala Bagian Hukum",
            "Kepala Bagian Organisasi",
        ),
        (
            "Analis Kebijakan Ahli Muda",
            "Analis Kebijakan Ahli Pertama",
            "Analis Hukum Ahli Pertama",
            "Perancang Peraturan Perundang-undangan Ahli Pertama",
            "Pranata Humas Ahli Pertama",
            "Pranata Komputer Ahli Pertama",
            "Pengadministrasi Umum",
        ),
        ("{n}, S.H., M.H.", "{n}, S.Sos., M.Si.", "{n}, S.E., M.M.", "{n}, S.IP., M.Si."),
    ),
    _UnitSpec(
        "Inspektorat",
        14,
        "Inspektur",
        (
            "Sekretaris Inspektorat",
            "Inspektur Pembantu Wilayah I",
            "Inspektur Pembantu Wilayah II",
            "Inspektur Pembantu Wilayah III",
        ),
        (
            "Auditor Ahli Pertama",
            "Auditor Ahli Muda",
            "Pengawas Penyelenggaraan Urusan Pemerintahan Daerah Ahli Pertama",
            "Pengadministrasi Umum",
        ),
        ("{n}, S.E., M.Ak.", "{n}, S.H., M.H.", "{n}, S.E., Ak., M.M."),
    ),
    _UnitSpec(
        "Bappeda",
        13,
        "Kepala Bappeda",
        (
            "Sekretaris Bappeda",
            "Kepala Bidang Perencanaan Ekonomi",
            "Kepala Bidang Pemerintahan dan Pembangunan Manusia",
            "Kepala Bidang Infrastruktur dan Kewilayahan",
        ),
        (
            "Perencana Ahli Pertama",
            "Perencana Ahli Muda",
            "Analis Kebijakan Ahli Muda",
            "Statistisi Ahli Pertama",
            "Pengadministrasi Umum",
        ),
        ("{n}, S.E., M.Si.", "{n}, S.T., M.T.", "Ir. {n}, M.Si.", "{n}, S.P., M.Si."),
    ),
    _UnitSpec(
        "BKPSDM",
        16,
        "Kepala BKPSDM",
        (
            "Kepala Bidang Mutasi dan Promosi",
            "Sekretaris BKPSDM",
            "Kepala Bidang Pengembangan Kompetensi Aparatur",
            "Kepala Bidang Penilaian Kinerja dan Penghargaan",
        ),
        (
            "Analis Kepegawaian Ahli Pertama",
            "Analis Kepegawaian Ahli Muda",
            "Analis SDM Aparatur Ahli Pertama",
            "Pranata Komputer Ahli Pertama",
            "Pengelola Data Kepegawaian",
            "Pengadministrasi Umum",
        ),
        ("{n}, S.Psi., M.Si.", "{n}, S.IP., M.Si.", "{n}, S.Sos., M.M."),
    ),
    _UnitSpec(
        "Badan Keuangan Daerah",
        20,
        "Kepala Badan Keuangan Daerah",
        (
            "Sekretaris Badan Keuangan Daerah",
            "Kepala Bidang Anggaran",
            "Kepala Bidang Perbendaharaan",
            "Kepala Bidang Pendapatan",
            "Kepala Bidang Akuntansi dan Aset",
        ),
        (
            "Analis Keuangan Pusat dan Daerah Ahli Pertama",
            "Analis Keuangan Pusat dan Daerah Ahli Muda",
            "Pengelola Keuangan",
            "Bendahara Pengeluaran",
            "Pranata Komputer Ahli Pertama",
            "Pengadministrasi Umum",
        ),
        ("{n}, S.E., M.Si.", "{n}, S.E., Ak., M.M.", "{n}, S.Ak., M.Ak."),
    ),
    _UnitSpec(
        "Dinas Pendidikan dan Kebudayaan",
        20,
        "Kepala Dinas Pendidikan dan Kebudayaan",
        (
            "Sekretaris Dinas Pendidikan dan Kebudayaan",
            "Kepala Bidang Pembinaan Sekolah Dasar",
            "Kepala Bidang Pembinaan Sekolah Menengah Pertama",
            "Kepala Bidang Kebudayaan",
        ),
        (
            "Pengawas Sekolah Ahli Madya",
            "Analis Kurikulum Ahli Pertama",
            "Pamong Budaya Ahli Pertama",
            "Pengelola Data Pendidikan",
            "Pengadministrasi Umum",
        ),
        ("{n}, S.Pd., M.Pd.", "{n}, S.Pd., M.Si.", "{n}, S.S., M.Hum."),
    ),
    _UnitSpec(
        "Dinas Kesehatan",
        24,
        "Kepala Dinas Kesehatan",
        (
            "Sekretaris Dinas Kesehatan",
            "Kepala Bidang Kesehatan Masyarakat",
            "Kepala Bidang Pencegahan dan Pengendalian Penyakit",
            "Kepala Bidang Pelayanan dan Sumber Daya Kesehatan",
        ),
        (
            "Epidemiolog Kesehatan Ahli Pertama",
            "Penyuluh Kesehatan Masyarakat Ahli Pertama",
            "Nutrisionis Ahli Pertama",
            "Sanitarian Terampil",
            "Administrator Kesehatan Ahli Muda",
            "Perawat Ahli Pertama",
            "Pengadministrasi Umum",
        ),
        ("dr. {n}, M.Kes.", "{n}, S.K.M., M.Kes.", "dr. {n}, M.P.H."),
    ),
    _UnitSpec(
        "Dinas Pekerjaan Umum dan Penataan Ruang",
        20,
        "Kepala Dinas Pekerjaan Umum dan Penataan Ruang",
        (
            "Sekretaris Dinas Pekerjaan Umum dan Penataan Ruang",
            "Kepala Bidang Bina Marga",
            "Kepala Bidang Sumber Daya Air",
            "Kepala Bidang Penataan Ruang",
            "Kepala Bidang Cipta Karya",
        ),
        (
            "Teknik Jalan dan Jembatan Ahli Pertama",
            "Penata Ruang Ahli Pertama",
            "Pengawas Bangunan Gedung",
            "Pengelola Pengadaan Barang/Jasa Ahli Pertama",
            "Juru Ukur",
            "Pengadministrasi Umum",
        ),
        ("Ir. {n}, M.T.", "{n}, S.T., M.T.", "{n}, S.T., M.Si."),
    ),
    _UnitSpec(
        "Dinas Perhubungan",
        16,
        "Kepala Dinas Perhubungan",
        (
            "Sekretaris Dinas Perhubungan",
            "Kepala Bidang Lalu Lintas",
            "Kepala Bidang Angkutan",
            "Kepala Bidang Perparkiran",
        ),
        (
            "Penguji Kendaraan Bermotor Terampil",
            "Petugas Lalu Lintas",
            "Pengelola Perparkiran",
            "Analis Kebijakan Ahli Pertama",
            "Pengadministrasi Umum",
        ),
        ("{n}, S.T., M.T.", "{n}, S.Sos., M.Si.", "{n}, S.SiT., M.M."),
    ),
    _UnitSpec(
        "Dinas Lingkungan Hidup",
        18,
        "Kepala Dinas Lingkungan Hidup",
        (
            "Sekretaris Dinas Lingkungan Hidup",
            "Kepala Bidang Pengelolaan Sampah",
            "Kepala Bidang Pengendalian Pencemaran Lingkungan",
            "Kepala Bidang Pertamanan dan Ruang Terbuka Hijau",
        ),
        (
            "Pengendali Dampak Lingkungan Ahli Pertama",
            "Pengawas Lingkungan Hidup Ahli Pertama",
            "Pengelola Persampahan",
            "Pengadministrasi Umum",
        ),
        ("{n}, S.T., M.Si.", "Ir. {n}, M.Si.", "{n}, S.Si., M.Si."),
    ),
    _UnitSpec(
        "Dinas Sosial",
        12,
        "Kepala Dinas Sosial",
        (
            "Sekretaris Dinas Sosial",
            "Kepala Bidang Rehabilitasi Sosial",
            "Kepala Bidang Perlindungan dan Jaminan Sosial",
            "Kepala Bidang Pemberdayaan Sosial",
        ),
        (
            "Pekerja Sosial Ahli Pertama",
            "Penyuluh Sosial Ahli Pertama",
            "Pengelola Data Kesejahteraan Sosial",
            "Pengadministrasi Umum",
        ),
        ("{n}, S.Sos., M.Si.", "{n}, S.Sos., M.Kesos.", "{n}, S.Sos., M.M."),
    ),
    _UnitSpec(
        "Dinas Kependudukan dan Pencatatan Sipil",
        15,
        "Kepala Dinas Kependudukan dan Pencatatan Sipil",
        (
            "Sekretaris Dinas Kependudukan dan Pencatatan Sipil",
            "Kepala Bidang Pelayanan Pendaftaran Penduduk",
            "Kepala Bidang Pelayanan Pencatatan Sipil",
            "Kepala Bidang Pengelolaan Informasi Administrasi Kependudukan",
        ),
        (
            "Administrator Database Kependudukan Ahli Pertama",
            "Pranata Komputer Ahli Pertama",
            "Pengelola Layanan Kependudukan",
            "Verifikator Data Kependudukan",
            "Pengadministrasi Umum",
        ),
        ("{n}, S.Sos., M.Si.", "{n}, S.Kom., M.Kom.", "{n}, S.H., M.H."),
    ),
    _UnitSpec(
        "Dinas Komunikasi dan Informatika",
        17,
        "Kepala Dinas Komunikasi dan Informatika",
        (
            "Kepala Bidang Aplikasi Informatika",
            "Sekretaris Dinas Komunikasi dan Informatika",
            "Kepala Bidang Informasi dan Komunikasi Publik",
            "Kepala Bidang Persandian dan Statistik",
        ),
        (
            "Pranata Komputer Ahli Pertama",
            "Pranata Komputer Ahli Muda",
            "Analis Sistem Informasi",
            "Pranata Humas Ahli Pertama",
            "Statistisi Ahli Pertama",
            "Sandiman Ahli Pertama",
            "Pengadministrasi Umum",
        ),
        ("{n}, S.Kom., M.T.", "{n}, S.Kom., M.Kom.", "{n}, S.I.Kom., M.Si."),
    ),
    _UnitSpec(
        "Dinas Pariwisata",
        12,
        "Kepala Dinas Pariwisata",
        (
            "Sekretaris Dinas Pariwisata",
            "Kepala Bidang Destinasi Pariwisata",
            "Kepala Bidang Pemasaran Pariwisata",
            "Kepala Bidang Ekonomi Kreatif",
        ),
        (
            "Analis Pariwisata Ahli Pertama",
            "Pengelola Objek Wisata",
            "Pamong Budaya Ahli Pertama",
            "Pranata Humas Ahli Pertama",
            "Pengadministrasi Umum",
        ),
        ("{n}, S.Par., M.Par.", "{n}, S.E., M.M.", "{n}, S.S., M.Si."),
    ),
    _UnitSpec(
        "Satpol PP dan Damkar",
        22,
        "Kepala Satpol PP dan Damkar",
        (
            "Sekretaris Satpol PP dan Damkar",
            "Kepala Bidang Penegakan Peraturan Daerah",
            "Kepala Bidang Ketertiban Umum dan Ketenteraman Masyarakat",
            "Kepala Bidang Pemadam Kebakaran dan Penyelamatan",
        ),
        (
            "Polisi Pamong Praja Terampil",
            "Polisi Pamong Praja Ahli Pertama",
            "Petugas Pemadam Kebakaran",
            "Penyidik Pegawai Negeri Sipil",
            "Pengadministrasi Umum",
        ),
        ("{n}, S.H., M.H.", "{n}, S.STP., M.Si.", "{n}, S.Sos., M.M."),
    ),
    _UnitSpec(
        "RSUD Kota Bukittinggi",
        40,
        "Direktur RSUD Kota Bukittinggi",
        (
            "Kepala Bagian Tata Usaha",
            "Kepala Bidang Pelayanan Medik",
            "Kepala Bidang Keperawatan",
            "Kepala Bidang Penunjang Medik",
        ),
        (
            "Dokter Ahli Pertama",
            "Perawat Ahli Pertama",
            "Perawat Terampil",
            "Bidan Terampil",
            "Apoteker Ahli Pertama",
            "Pranata Laboratorium Kesehatan Terampil",
            "Perekam Medis Terampil",
            "Pranata Komputer Ahli Pertama",
            "Pengadministrasi Umum",
        ),
        ("dr. {n}, Sp.PD", "dr. {n}, M.A.R.S.", "{n}, S.Kep., Ns., M.Kep.", "{n}, S.E., M.M."),
    ),
    _UnitSpec(
        "Kecamatan Guguk Panjang",
        10,
        "Camat Guguk Panjang",
        ("Sekretaris Kecamatan Guguk Panjang", *(f"Lurah {k}" for k in _KEL_GP)),
        _KECAMATAN_STAFF,
        ("{n}, S.STP., M.Si.", "{n}, S.Sos.", "{n}, S.IP., M.Si."),
    ),
    _UnitSpec(
        "Kecamatan Mandiangin Koto Selayan",
        10,
        "Camat Mandiangin Koto Selayan",
        ("Sekretaris Kecamatan Mandiangin Koto Selayan", *(f"Lurah {k}" for k in _KEL_MKS)),
        _KECAMATAN_STAFF,
        ("{n}, S.STP., M.Si.", "{n}, S.Sos.", "{n}, S.IP., M.Si."),
    ),
    _UnitSpec(
        "Kecamatan Aur Birugo Tigo Baleh",
        10,
        "Camat Aur Birugo Tigo Baleh",
        ("Sekretaris Kecamatan Aur Birugo Tigo Baleh", *(f"Lurah {k}" for k in _KEL_ABTB)),
        _KECAMATAN_STAFF,
        ("{n}, S.STP., M.Si.", "{n}, S.Sos.", "{n}, S.IP., M.Si."),
    ),
)
_UNIT_BY_NAME = {spec.name: spec for spec in _UNITS}
# The sample units of the design notes, in their order (demo data and benchmarks only).
SAMPLE_UNITS: tuple[str, ...] = tuple(spec.name for spec in _UNITS)
SEKRETARIAT = "Sekretariat Daerah"

# Name templates and education level ("SMA", "D3", "S1", "S2") by a word of the position.
_Titles = tuple[tuple[str, str], ...]
_STAFF_TITLES: tuple[tuple[str, _Titles], ...] = (
    ("Dokter", (("dr. {n}", "S1"),)),
    ("Apoteker", (("{n}, S.Farm., Apt.", "S1"),)),
    ("Perawat Terampil", (("{n}, A.Md.Kep.", "D3"),)),
    ("Perawat", (("{n}, S.Kep., Ns.", "S1"),)),
    ("Bidan", (("{n}, A.Md.Keb.", "D3"), ("{n}, S.Tr.Keb.", "S1"))),
    ("Laboratorium", (("{n}, A.Md.A.K.", "D3"),)),
    ("Perekam Medis", (("{n}, A.Md.RMIK.", "D3"),)),
    ("Nutrisionis", (("{n}, S.Gz.", "S1"),)),
    ("Sanitarian", (("{n}, A.Md.K.L.", "D3"),)),
    ("Epidemiolog", (("{n}, S.K.M.", "S1"), ("{n}, S.K.M., M.Kes.", "S2"))),
    ("Kesehatan", (("{n}, S.K.M.", "S1"), ("{n}, S.K.M., M.Kes.", "S2"))),
    ("Pranata Komputer Terampil", (("{n}, A.Md.Kom.", "D3"),)),
    ("Pranata Komputer", (("{n}, S.Kom.", "S1"), ("{n}, S.T.", "S1"))),
    ("Sistem Informasi", (("{n}, S.Kom.", "S1"), ("{n}, S.Kom., M.Kom.", "S2"))),
    ("Database", (("{n}, S.Kom.", "S1"),)),
    ("Statistisi", (("{n}, S.Si.", "S1"), ("{n}, S.Stat.", "S1"))),
    ("Sandiman", (("{n}, S.Tr.Sdn.", "S1"),)),
    ("Humas", (("{n}, S.I.Kom.", "S1"), ("{n}, S.Sos.", "S1"))),
    ("Hukum", (("{n}, S.H.", "S1"), ("{n}, S.H., M.H.", "S2"))),
    ("Perancang", (("{n}, S.H.", "S1"),)),
    ("Penyidik", (("{n}, S.H.", "S1"),)),
    ("Auditor", (("{n}, S.E.", "S1"), ("{n}, S.Ak.", "S1"), ("{n}, S.E., M.Ak.", "S2"))),
    ("Pengawas Penyelenggaraan", (("{n}, S.IP.", "S1"), ("{n}, S.H.", "S1"))),
    ("Keuangan", (("{n}, S.E.", "S1"), ("{n}, S.Ak.", "S1"), ("{n}, A.Md.Ak.", "D3"))),
    ("Bendahara", (("{n}, S.E.", "S1"), ("{n}, A.Md.Ak.", "D3"))),
    ("Perencana", (("{n}, S.E., M.Si.", "S2"), ("{n}, S.T.", "S1"), ("{n}, S.P.", "S1"))),
    ("Teknik Jalan", (("{n}, S.T.", "S1"), ("Ir. {n}", "S1"))),
    ("Penata Ruang", (("{n}, S.T.", "S1"), ("{n}, S.T., M.T.", "S2"))),
    ("Bangunan", (("{n}, S.T.", "S1"), ("{n}, A.Md.T.", "D3"))),
    ("Juru Ukur", (("{n}, A.Md.T.", "D3"), ("{n}", "SMA"))),
    ("Pengadaan", (("{n}, S.T.", "S1"), ("{n}, S.E.", "S1"))),
    ("Pengawas Sekolah", (("{n}, S.Pd., M.Pd.", "S2"), ("{n}, S.Pd.", "S1"))),
    ("Kurikulum", (("{n}, S.Pd.", "S1"), ("{n}, S.Pd., M.Pd.", "S2"))),
    ("Pendidikan", (("{n}, S.Pd.", "S1"), ("{n}, A.Md.", "D3"))),
    ("Pamong Budaya", (("{n}, S.S.", "S1"), ("{n}, S.Sos.", "S1"))),
    ("Pariwisata", (("{n}, S.Par.", "S1"), ("{n}, S.E.", "S1"))),
    ("Wisata", (("{n}, A.Md.Par.", "D3"), ("{n}", "SMA"))),
    ("Sosial", (("{n}, S.Sos.", "S1"), ("{n}, S.Tr.Sos.", "S1"))),
    ("Kepegawaian", (("{n}, S.Psi.", "S1"), ("{n}, S.IP.", "S1"), ("{n}, A.Md.", "D3"))),
    ("SDM", (("{n}, S.Psi.", "S1"), ("{n}, S.E.", "S1"))),
    ("Lingkungan", (("{n}, S.T.", "S1"), ("{n}, S.Si.", "S1"))),
    ("Persampahan", (("{n}", "SMA"), ("{n}, A.Md.", "D3"))),
    ("Polisi Pamong Praja Terampil", (("{n}", "SMA"),)),
    ("Polisi Pamong Praja", (("{n}, S.H.", "S1"), ("{n}, S.Sos.", "S1"))),
    ("Pemadam", (("{n}", "SMA"),)),
    ("Penguji", (("{n}, A.Md.T.", "D3"),)),
    ("Lalu Lintas", (("{n}", "SMA"), ("{n}, A.Md.LLAJ.", "D3"))),
    ("Kepala Seksi", (("{n}, S.IP.", "S1"), ("{n}, S.Sos.", "S1"), ("{n}, S.STP.", "S1"))),
    ("Kebijakan", (("{n}, S.IP.", "S1"), ("{n}, S.Sos., M.Si.", "S2"), ("{n}, S.E.", "S1"))),
    ("Kependudukan", (("{n}, A.Md.", "D3"), ("{n}, S.Kom.", "S1"))),
    ("Pengadministrasi", (("{n}", "SMA"), ("{n}, A.Md.", "D3"))),
    ("Pengelola", (("{n}, A.Md.", "D3"), ("{n}, S.Sos.", "S1"), ("{n}", "SMA"))),
    ("Petugas", (("{n}", "SMA"),)),
)
_DEFAULT_TITLES: _Titles = (("{n}, S.Sos.", "S1"), ("{n}, S.E.", "S1"), ("{n}, A.Md.", "D3"))

_GOLONGAN = ("II/a", "II/b", "II/c", "II/d", "III/a", "III/b", "III/c", "III/d",
             "IV/a", "IV/b", "IV/c", "IV/d")  # fmt: skip
_START_GRADE = {"SMA": 0, "D3": 2, "S1": 4, "S2": 4}
_PPPK_GRADE = {"SMA": "V", "D3": "VII", "S1": "IX", "S2": "X"}
# (lowest, highest) golongan index by level: 0 Sekda, 1 unit head, 2 mid-level, 3 staff.
_GRADE_RANGE = {0: (11, 11), 1: (8, 10), 2: (6, 9), 3: (0, 7)}
# Age range by level.
_AGE_RANGE = {0: (52, 57), 1: (46, 57), 2: (38, 54), 3: (24, 56)}

_MALE_GIVEN = (
    "Rizky", "Andika", "Yusuf", "Fadli", "Irwan", "Hendra", "Afrizal", "Febri", "Rahmat",
    "Syafri", "Dedi", "Budi", "Arif", "Fauzan", "Ilham", "Reza", "Doni", "Yudi", "Hafiz",
    "Rifki", "Fajar", "Wahyu", "Teguh", "Ikhsan", "Roni", "Muhammad", "Ahmad", "Asrul",
    "Novrizal", "Firdaus", "Yoserizal", "Gusrizal", "Riko", "Ferdi", "Aditya", "Habibullah",
)  # fmt: skip
_MALE_FAMILY = (
    "Pratama", "Saputra", "Putra", "Gunawan", "Kurniawan", "Hidayat", "Syahputra", "Rahman",
    "Ramadhan", "Hakim", "Maulana", "Nugraha", "Firmansyah", "Effendi", "Syafei", "Chaniago",
)  # fmt: skip
_MALE_SINGLE = ("Zulkifli", "Syahrial", "Jonnedi", "Erizal", "Zulhendri", "Mardianto", "Asnawi")
_MINANG_GELAR = (
    "Datuak Rajo Mudo", "Sutan Mangkuto", "Malin Marajo", "Sutan Pamenan", "Datuak Bandaro",
    "Rajo Basa", "Sutan Sinaro",
)  # fmt: skip
_FEMALE_GIVEN = (
    "Siti", "Fitri", "Yulia", "Rahmi", "Novia", "Elfi", "Desi", "Yeni", "Rina", "Sri",
    "Putri", "Dewi", "Ratna", "Silvia", "Mega", "Vivi", "Lisa", "Intan", "Anisa", "Aulia",
    "Nadia", "Winda", "Yolanda", "Suci", "Fadhila", "Rani", "Nurul", "Mutia", "Hayati",
)  # fmt: skip
_FEMALE_FAMILY = (
    "Rahmawati", "Handayani", "Wahyuni", "Yulianti", "Kurniasih", "Susanti", "Marlina",
    "Oktavia", "Permata Sari", "Novita", "Rahayu", "Fitriani", "Safitri", "Lestari", "Puspita",
    "Andriani", "Yusra", "Ramadhani",
)  # fmt: skip
_FEMALE_SINGLE = (
    "Nurhayati", "Yusnimar", "Asniwati", "Rosmaniar", "Zurnelis", "Wirda", "Mardiana", "Yenti",
)  # fmt: skip

_EXTERNAL_REGIONS = (
    "Kabupaten Agam",
    "Kota Padang Panjang",
    "Kota Payakumbuh",
    "Kabupaten Tanah Datar",
    "Kabupaten Lima Puluh Kota",
    "Kota Padang",
    "Kabupaten Pasaman",
)

_MISSING_DOCUMENTS = (
    "SKP dua tahun terakhir",
    "surat persetujuan atasan langsung",
    "surat pernyataan tidak sedang menjalani hukuman disiplin",
    "fotokopi SK pangkat terakhir yang dilegalisir",
    "surat keterangan sehat dari dokter pemerintah",
    "analisis jabatan dan ABK unit tujuan",
)
_MISSING_DOCUMENTS_EXTERNAL = (
    "surat persetujuan melepas dari PPK instansi asal",
    "surat persetujuan menerima dari PPK instansi tujuan",
)
_CANCEL_REASONS = (
    "Dibatalkan atas permintaan pegawai yang bersangkutan (alasan keluarga).",
    "Dibatalkan: formasi jabatan tujuan sudah terisi berdasarkan hasil sidang TPK.",
    "Dibatalkan: instansi tujuan mencabut surat persetujuan menerima.",
    "Dibatalkan: pegawai belum memenuhi masa kerja minimal pada jabatan saat ini.",
)
_FEEDBACK: dict[Predicate, tuple[str, ...]] = {
    Predicate.SANGAT_BAIK: (
        "Kinerja sangat baik, pertahankan inisiatif dan kecepatan pelayanan.",
        "Hasil kerja melampaui target bulan ini. Terima kasih atas dedikasinya.",
        "Menjadi contoh bagi rekan kerja dalam kolaborasi dan ketepatan waktu.",
    ),
    Predicate.BAIK: (
        "Target bulanan tercapai. Tingkatkan dokumentasi pekerjaan.",
        "Kinerja sesuai ekspektasi, terus jaga kedisiplinan.",
        "Pelayanan kepada masyarakat sudah baik; lebih aktif berbagi pengetahuan dengan tim.",
        "Laporan diselesaikan tepat waktu. Pertahankan.",
    ),
    Predicate.BUTUH_PERBAIKAN: (
        "Beberapa target belum tercapai. Mohon susun rencana perbaikan bersama atasan.",
        "Perlu peningkatan ketepatan waktu penyelesaian tugas.",
    ),
    Predicate.KURANG: (
        "Perilaku kerja perlu pembinaan: kehadiran dan kepatuhan pada aturan belum sesuai.",
        "Kerja sama dengan rekan satu tim perlu diperbaiki; akan dibahas dalam pembinaan.",
    ),
    Predicate.SANGAT_KURANG: (
        "Hasil kerja dan perilaku kerja di bawah ekspektasi. Akan dilakukan pembinaan "
        "oleh atasan langsung bersama BKPSDM.",
    ),
}


@dataclass(frozen=True, slots=True)
class _Fixed:
    role: str
    name: str
    nip: str
    position: str
    rank: str


_FIXED: dict[str, _Fixed] = {
    "sekda": _Fixed(
        "asn", "Yusuf Datuak Rajo Mudo, S.H., M.Si.", "196907141995031001",
        "Sekretaris Daerah", "IV/d",
    ),
    "hr_admin": _Fixed(
        "hr_admin", "Siti Rahmawati, S.Psi.", "198809122011012003",
        "Analis Kepegawaian Ahli Muda", "III/c",
    ),
    "supervisor": _Fixed(
        "asn", "Andika Saputra, S.Kom., M.T.", "198205172006041001",
        "Kepala Bidang Aplikasi Informatika", "IV/a",
    ),
    "asn_new_in_unit": _Fixed(
        "asn", "Fitri Handayani, S.Kom.", "199307242019032005",
        "Pranata Komputer Ahli Pertama", "III/b",
    ),
    "asn_in_mutation": _Fixed(
        "asn", "Rizky Pratama, S.E.", "199001082014021001",
        "Analis Keuangan Pusat dan Daerah Ahli Muda", "III/c",
    ),
    "asn_needs_coaching": _Fixed(
        "asn", "Hendra Gunawan", "198511302010011004",
        "Polisi Pamong Praja Terampil", "II/d",
    ),
}  # fmt: skip

DEMO_PEOPLE: dict[str, str] = {key: fixed.nip for key, fixed in _FIXED.items()}
"""Well-known demo people (role -> NIP), the same for every seed:

* ``sekda``: Sekretaris Daerah, top of the supervisor tree (no supervisor);
* ``hr_admin``: BKPSDM analyst with role ``hr_admin``; records every mutation stage;
* ``supervisor``: Kepala Bidang Aplikasi Informatika (Diskominfo) with several direct
  reports whose evaluation of the current month is pending;
* ``asn_new_in_unit``: one of those reports, moved in by rotation ("baru dimutasi");
* ``asn_in_mutation``: promotion under review by the TPK, invited to an upcoming training;
* ``asn_needs_coaching``: rated below expectations last month (needs pembinaan).
"""

_FIXED_UNIT = {
    "sekda": SEKRETARIAT,
    "hr_admin": "BKPSDM",
    "supervisor": "Dinas Komunikasi dan Informatika",
    "asn_new_in_unit": "Dinas Komunikasi dan Informatika",
    "asn_in_mutation": "Badan Keuangan Daerah",
    "asn_needs_coaching": "Satpol PP dan Damkar",
}
_TYPE_WORDS = {
    MutationType.ROTASI: "rotasi",
    MutationType.PROMOSI: "promosi",
    MutationType.ANTAR_INSTANSI: "mutasi antar-instansi",
}
_NEW_IN_UNIT_FROM = "Dinas Kependudukan dan Pencatatan Sipil"

# --------------------------------------------------------------------------- the plan


@dataclass(slots=True)
class _Person:
    key: int
    level: int
    unit: str
    position: str
    name: str
    nip: str
    employee_type: str
    rank: str
    phone: str = ""
    supervisor: int | None = None
    role: str = "asn"
    quality: str = "good"
    fixed: str | None = None


@dataclass(slots=True)
class _Event:
    from_stage: Stage | None
    to_stage: Stage
    at: dt.datetime
    note: str | None


@dataclass(slots=True)
class _Move:
    person: int
    mutation_type: MutationType
    external: bool
    from_unit: str
    from_position: str
    to_unit: str
    to_position: str
    events: list[_Event]
    sk_number: str | None = None
    sk_date: dt.date | None = None
    tmt_date: dt.date | None = None
    note: str | None = None

    @property
    def stage(self) -> Stage:
        return self.events[-1].to_stage


@dataclass(slots=True)
class _Attendee:
    person: int
    attendance: str = "unknown"
    responded_at: dt.datetime | None = None


@dataclass(slots=True)
class _Session:
    code: str
    title: str
    starts_at: dt.datetime
    ends_at: dt.datetime
    place: str
    online_link: str | None
    move: int | None
    attendees: list[_Attendee]


@dataclass(slots=True)
class _Period:
    year: int
    month: int
    opens_on: dt.date
    closes_on: dt.date
    status: str


@dataclass(slots=True)
class _Rating:
    period: int
    person: int
    evaluator: int
    status: str
    work_result: str | None
    behaviour_ratings: dict[str, str]
    behaviour: str | None
    predicate: str | None
    feedback: str | None
    current_step: str | None
    submitted_at: dt.datetime | None


@dataclass(slots=True)
class _Plan:
    seed: int
    today: dt.date
    people: list[_Person] = field(default_factory=list)
    moves: list[_Move] = field(default_factory=list)
    sessions: list[_Session] = field(default_factory=list)
    periods: list[_Period] = field(default_factory=list)
    ratings: list[_Rating] = field(default_factory=list)
    fixed: dict[str, int] = field(default_factory=dict)


def _wib(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=WIB)


def _weekday_back(day: dt.date) -> dt.date:
    while day.weekday() >= 5:
        day -= dt.timedelta(days=1)
    return day


def _weekday_forward(day: dt.date) -> dt.date:
    while day.weekday() >= 5:
        day += dt.timedelta(days=1)
    return day


def _working_day(year: int, month: int, n: int) -> dt.date:
    """The ``n``-th Monday-Friday of a month (public holidays ignored)."""
    day = dt.date(year, month, 1)
    count = 0
    while True:
        if day.weekday() < 5:
            count += 1
            if count == n:
                return day
        day += dt.timedelta(days=1)


def _add_months(year: int, month: int, delta: int) -> tuple[int, int]:
    index = year * 12 + (month - 1) + delta
    return index // 12, index % 12 + 1


def _external_unit(unit: str, region: str) -> str:
    if unit.startswith(("Dinas", "Badan", "Inspektorat", "Bappeda", "BKPSDM", "Satpol")):
        return f"{unit} {region}"
    if unit.startswith("RSUD"):
        return f"RSUD {region}"
    return f"Sekretariat Daerah {region}"


class _Planner:
    """Builds the whole data set in memory from one random generator."""

    def __init__(self, seed: int, today: dt.date, employees: int) -> None:
        self.rng = random.Random(seed)
        self.today = today
        self.target = employees
        self.plan = _Plan(seed=seed, today=today)
        self.nips: set[str] = {fixed.nip for fixed in _FIXED.values()}
        self.vacancies: dict[str, list[str]] = {}
        self.mids: dict[str, list[int]] = {}
        self.staff: dict[str, list[int]] = {}
        self.taken: set[int] = set()
        self.sk_numbers: set[int] = set()

    # ----------------------------------------------------------------- people

    def _name(self, female: bool, born: int) -> str:
        rng = self.rng
        if female:
            if born < 1982 and rng.random() < 0.3:
                return rng.choice(_FEMALE_SINGLE)
            return f"{rng.choice(_FEMALE_GIVEN)} {rng.choice(_FEMALE_FAMILY)}"
        if born < 1980 and rng.random() < 0.15:
            return f"{rng.choice(_MALE_GIVEN)} {rng.choice(_MINANG_GELAR)}"
        if born < 1982 and rng.random() < 0.2:
            return rng.choice(_MALE_SINGLE)
        return f"{rng.choice(_MALE_GIVEN)} {rng.choice(_MALE_FAMILY)}"

    def _titles(self, level: int, unit: _UnitSpec, position: str) -> _Titles:
        if level <= 2:
            return tuple(
                (t, "S2" if ", M." in t or "Sp." in t else "S1") for t in unit.leader_titles
            )
        for word, titles in _STAFF_TITLES:
            if word in position:
                return titles
        return _DEFAULT_TITLES

    def _nip(self, born: dt.date, middle: str, female: bool) -> str:
        sequence = self.rng.randint(1, 9)
        while True:
            nip = f"{born:%Y%m%d}{middle}{2 if female else 1}{sequence:03d}"
            if nip not in self.nips:
                self.nips.add(nip)
                return nip
            sequence += 1

    def _person(self, level: int, unit: _UnitSpec, position: str, *, pppk: bool = False) -> int:
        rng = self.rng
        low, high = _AGE_RANGE[level]
        born_year = self.today.year - rng.randint(low, high)
        born = dt.date(born_year, rng.randint(1, 12), rng.randint(1, 28))
        female = rng.random() < (0.3 if level <= 1 else 0.5)
        if "Bidan" in position:
            female = True
        template, education = rng.choice(self._titles(level, unit, position))
        name = template.format(n=self._name(female, born_year))
        first, last = max(2019, born_year + 20), min(2024, self.today.year)
        if pppk and first <= last:
            year = rng.randint(first, last)
            nip = self._nip(born, f"{year}{year % 100:02d}", female)
            employee_type, rank = EmployeeType.PPPK, _PPPK_GRADE[education]
        else:
            start_age = {"SMA": (19, 24), "D3": (21, 27), "S1": (23, 30), "S2": (23, 30)}
            year = min(born_year + rng.randint(*start_age[education]), self.today.year - 1)
            month = rng.choice((1, 2, 3, 3, 4, 12)) if year < 2019 else rng.choice((1, 3, 6))
            nip = self._nip(born, f"{year}{month:02d}", female)
            low_grade, high_grade = _GRADE_RANGE[level]
            steps = (self.today.year - year) // 4 + (education == "S2") - rng.randint(0, 2)
            grade = min(max(_START_GRADE[education] + steps, low_grade), high_grade)
            employee_type, rank = EmployeeType.PNS, _GOLONGAN[grade]
        quality = rng.choices(("excellent", "good", "weak"), (15, 80, 5))[0]
        person = _Person(
            key=len(self.plan.people),
            level=level,
            unit=unit.name,
            position=position,
            name=name,
            nip=nip,
            employee_type=employee_type.value,
            rank=rank,
            quality=quality,
        )
        self.plan.people.append(person)
        return person.key

    def _fix(self, key: int, role: str) -> None:
        fixed = _FIXED[role]
        person = self.plan.people[key]
        self.nips.discard(person.nip)
        person.name, person.nip, person.position = fixed.name, fixed.nip, fixed.position
        person.rank, person.role, person.fixed = fixed.rank, fixed.role, role
        person.employee_type = EmployeeType.PNS.value
        self.plan.fixed[role] = key
        # Neither they nor their supervisors move, so their story stays as promised.
        self.taken.add(key)
        if person.supervisor is not None:
            self.taken.add(person.supervisor)

    def _sizes(self) -> dict[str, tuple[int, int]]:
        """(mid-level count, staff count) per unit, at least ``self.target`` people in all."""
        total_weight = sum(spec.weight for spec in _UNITS)
        raw = {spec.name: self.target * spec.weight / total_weight for spec in _UNITS}
        sizes = {name: int(value) for name, value in raw.items()}
        short = self.target - sum(sizes.values())
        for name in sorted(raw, key=lambda n: raw[n] - sizes[n], reverse=True)[:short]:
            sizes[name] += 1
        result = {}
        for spec in _UNITS:
            mids = self.rng.choice((2, 3, 3, 3, 4))
            mids = min(mids, len(spec.mids) - 1)  # keep a vacancy for promotions
            minimum_staff = 2 * mids
            if spec.name == _FIXED_UNIT["supervisor"]:
                minimum_staff = 5 + 2 * (mids - 1)
            result[spec.name] = (mids, max(sizes[spec.name] - 1 - mids, minimum_staff))
        return result

    def people(self) -> None:
        rng = self.rng
        sizes = self._sizes()
        sekda = self._person(0, _UNIT_BY_NAME[SEKRETARIAT], "Sekretaris Daerah")
        self._fix(sekda, "sekda")
        for spec in _UNITS:
            n_mids, n_staff = sizes[spec.name]
            if spec.name == SEKRETARIAT:
                head = sekda
            else:
                head = self._person(1, spec, spec.head)
                self.plan.people[head].supervisor = sekda
            posts = list(spec.mids[:2]) + rng.sample(spec.mids[2:], n_mids - 2)
            self.vacancies[spec.name] = [p for p in spec.mids if p not in posts]
            mids = []
            for post in posts:
                key = self._person(2, spec, post)
                self.plan.people[key].supervisor = head
                mids.append(key)
            self.mids[spec.name] = mids
            staff = []
            for _ in range(n_staff):
                position = rng.choice(spec.staff)
                key = self._person(3, spec, position, pppk=rng.random() < 0.2)
                staff.append(key)
            # Assign staff to mid-level officials; the demo supervisor gets five first.
            order = list(mids)
            rng.shuffle(staff)
            first = 5 if spec.name == _FIXED_UNIT["supervisor"] else 0
            for i, key in enumerate(staff):
                boss = mids[0] if i < first else order[(i - first) % len(order)]
                self.plan.people[key].supervisor = boss
            self.staff[spec.name] = staff
        # The well-known people.
        pick = self._pick_staff
        self._fix(self.mids[_FIXED_UNIT["supervisor"]][0], "supervisor")
        supervisor = self.plan.fixed["supervisor"]
        self._fix(pick(_FIXED_UNIT["asn_new_in_unit"], boss=supervisor), "asn_new_in_unit")
        self._fix(pick("BKPSDM", boss=self.mids["BKPSDM"][0]), "hr_admin")
        self._fix(pick(_FIXED_UNIT["asn_in_mutation"]), "asn_in_mutation")
        self._fix(pick(_FIXED_UNIT["asn_needs_coaching"]), "asn_needs_coaching")
        self.plan.people[self.plan.fixed["asn_needs_coaching"]].quality = "weak"
        self.plan.people[self.plan.fixed["supervisor"]].quality = "excellent"
        # Phones: 62812 + 8 unique digits.
        numbers = rng.sample(range(10_000_000, 100_000_000), len(self.plan.people))
        for person, number in zip(self.plan.people, numbers, strict=True):
            person.phone = f"62812{number}"

    def _pick_staff(self, unit: str, boss: int | None = None) -> int:
        people = self.plan.people
        candidates = [
            key
            for key in self.staff[unit]
            if key not in self.taken and (boss is None or people[key].supervisor == boss)
        ]
        pns = [key for key in candidates if people[key].employee_type == EmployeeType.PNS]
        return (pns or candidates)[0]

    # ----------------------------------------------------------------- mutations

    def _free(self, keys: Sequence[int]) -> list[int]:
        people = self.plan.people
        return [
            k for k in keys if k not in self.taken and people[k].employee_type == EmployeeType.PNS
        ]

    def _units_with(self, position: str, other_than: str) -> list[str]:
        return [s.name for s in _UNITS if s.name != other_than and position in s.staff]

    def _sk_number(self, year: int) -> str:
        number = self.rng.randint(100, 899)
        while number in self.sk_numbers:
            number += 1
        self.sk_numbers.add(number)
        return f"800.1.3.3/{number}/BKPSDM-{year}"

    _GAPS: ClassVar[dict[tuple[Stage, Stage], tuple[int, int]]] = {
        (Stage.DIUSULKAN, Stage.VERIFIKASI): (2, 7),
        (Stage.VERIFIKASI, Stage.DIKEMBALIKAN): (1, 4),
        (Stage.DIKEMBALIKAN, Stage.VERIFIKASI): (4, 12),
        (Stage.VERIFIKASI, Stage.PERTIMBANGAN_TPK): (5, 14),
        (Stage.PERTIMBANGAN_TPK, Stage.PERTEK_BKN): (4, 10),
        (Stage.PERTEK_BKN, Stage.SK_TERBIT): (12, 25),
        (Stage.PERTIMBANGAN_TPK, Stage.SK_TERBIT): (7, 18),
        (Stage.SK_TERBIT, Stage.PELANTIKAN): (3, 9),
        (Stage.PELANTIKAN, Stage.SELESAI): (1, 4),
    }

    def _path(self, stage: Stage, external: bool, detour: bool) -> list[Stage]:
        main = timeline(external)
        if stage is Stage.DIKEMBALIKAN:
            return [Stage.DIUSULKAN, Stage.VERIFIKASI, Stage.DIKEMBALIKAN]
        if stage is Stage.DIBATALKAN:
            stop = self.rng.choice((Stage.VERIFIKASI, Stage.PERTIMBANGAN_TPK))
            return [*main[: main.index(stop) + 1], Stage.DIBATALKAN]
        path = main[: main.index(stage) + 1]
        if detour and len(path) > 2:
            path[2:2] = [Stage.DIKEMBALIKAN, Stage.VERIFIKASI]
        return path

    def _event_note(self, move: _Move, stage: Stage, day: dt.date) -> str | None:
        match stage:
            case Stage.DIUSULKAN:
                kind = _TYPE_WORDS[move.mutation_type]
                return f"Usulan {kind} dari pimpinan {move.from_unit}."
            case Stage.VERIFIKASI:
                return "Berkas diterima lengkap, verifikasi dokumen oleh BKPSDM."
            case Stage.DIKEMBALIKAN:
                pool = list(_MISSING_DOCUMENTS)
                if move.external:
                    pool += _MISSING_DOCUMENTS_EXTERNAL
                missing = self.rng.sample(pool, self.rng.randint(1, 3))
                listed = "; ".join(f"{i}) {doc}" for i, doc in enumerate(missing, start=1))
                return f"Berkas dikembalikan. Dokumen yang belum lengkap: {listed}."
            case Stage.PERTIMBANGAN_TPK:
                return f"Dibahas dalam sidang Tim Penilai Kinerja tanggal {day:%d-%m-%Y}."
            case Stage.PERTEK_BKN:
                return "Usulan pertimbangan teknis dikirim ke Kantor Regional XII BKN Pekanbaru."
            case Stage.SK_TERBIT:
                return f"SK Wali Kota Bukittinggi Nomor {move.sk_number}."
            case Stage.PELANTIKAN:
                return "Pelantikan dan serah terima jabatan di Aula Balai Kota Bukittinggi."
            case Stage.SELESAI:
                return "Mutasi selesai; data kepegawaian telah diperbarui."
            case Stage.DIBATALKAN:
                return self.rng.choice(_CANCEL_REASONS)
        return None

    def _history(self, move: _Move, path: list[Stage], last_day: dt.date) -> None:
        """Dates backwards from ``last_day`` (weekdays, strictly increasing), then notes."""
        rng = self.rng
        days = [_weekday_back(last_day)]
        for earlier, later in reversed(list(pairwise(path))):
            low, high = self._GAPS.get((earlier, later), (3, 20))
            days.append(_weekday_back(days[-1] - dt.timedelta(days=rng.randint(low, high))))
        days.reverse()
        for stage, day in zip(path, days, strict=True):
            if stage is Stage.SK_TERBIT:
                move.sk_date = day
                move.sk_number = self._sk_number(day.year)
                move.tmt_date = day + dt.timedelta(days=rng.randint(5, 12))
            if stage is Stage.PELANTIKAN:
                move.tmt_date = day
        previous: Stage | None = None
        for stage, day in zip(path, days, strict=True):
            at = _wib(day, rng.randint(8, 15), rng.choice((0, 10, 15, 20, 30, 40, 45, 50)))
            move.events.append(_Event(previous, stage, at, self._event_note(move, stage, day)))
            previous = stage
        if move.stage in (Stage.DIKEMBALIKAN, Stage.DIBATALKAN):
            move.note = move.events[-1].note

    def _move(
        self,
        person: int,
        kind: MutationType,
        stage: Stage,
        last_day: dt.date,
        other: tuple[str, str],
        detour: bool = False,
    ) -> int:
        """One mutation; ``other`` is the (unit, position) at the other end of the move.

        A completed move has the person's current unit/position as its destination;
        an unfinished or cancelled one has it as its origin.
        """
        p = self.plan.people[person]
        self.taken.add(person)
        here = (p.unit, p.position)
        origin, destination = (other, here) if stage is Stage.SELESAI else (here, other)
        external = kind is MutationType.ANTAR_INSTANSI
        move = _Move(person, kind, external, *origin, *destination, events=[])
        self._history(move, self._path(stage, external, detour), last_day)
        self.plan.moves.append(move)
        return len(self.plan.moves) - 1

    def _completed(self, kind: MutationType, days_ago: int) -> int | None:
        rng = self.rng
        day = self.today - dt.timedelta(days=days_ago)
        if kind is MutationType.PROMOSI:
            units = [u for u in self.mids if self._free(self.mids[u])]
            unit = rng.choice(units)
            person = rng.choice(self._free(self.mids[unit]))
            source = unit if rng.random() < 0.5 else rng.choice((SEKRETARIAT, "Bappeda"))
            posts = _UNIT_BY_NAME[source].staff
            seniors = [s for s in posts if "Ahli Muda" in s] or [s for s in posts if "Ahli" in s]
            origin = (source, rng.choice(seniors or list(posts)))
            return self._move(person, kind, Stage.SELESAI, day, origin)
        candidates = [k for unit in self.staff for k in self._free(self.staff[unit])]
        rng.shuffle(candidates)
        for person in candidates:
            unit, position = self.plan.people[person].unit, self.plan.people[person].position
            if kind is MutationType.ANTAR_INSTANSI:
                origin = (_external_unit(unit, rng.choice(_EXTERNAL_REGIONS)), position)
                return self._move(person, kind, Stage.SELESAI, day, origin)
            sources = self._units_with(position, unit)
            if sources:
                origin = (rng.choice(sources), position)
                return self._move(person, kind, Stage.SELESAI, day, origin)
        return None

    @staticmethod
    def _promotable(person: _Person) -> bool:
        senior = person.rank in ("III/c", "III/d", "IV/a")
        return senior and ("Ahli" in person.position or "Kepala Seksi" in person.position)

    def _pending(self, kind: MutationType, stage: Stage, day: dt.date, detour: bool) -> None:
        rng = self.rng
        candidates = [k for unit in self.staff for k in self._free(self.staff[unit])]
        if kind is MutationType.PROMOSI:
            candidates = [k for k in candidates if self._promotable(self.plan.people[k])]
        rng.shuffle(candidates)
        for person in candidates:
            unit, position = self.plan.people[person].unit, self.plan.people[person].position
            if kind is MutationType.ROTASI:
                targets = self._units_with(position, unit)
                if not targets:
                    continue
                other = (rng.choice(targets), position)
            elif kind is MutationType.PROMOSI:
                units = [unit] if self.vacancies[unit] else [u for u in self.vacancies if u != unit]
                units = [u for u in units if self.vacancies[u]]
                if not units:
                    continue
                target = rng.choice(units)
                other = (target, self.vacancies[target].pop(0))
            else:
                other = (_external_unit(unit, rng.choice(_EXTERNAL_REGIONS)), position)
            self._move(person, kind, stage, day, other, detour=detour)
            return

    def mutations(self) -> None:
        rng, today, fixed = self.rng, self.today, self.plan.fixed
        R, P, A = MutationType.ROTASI, MutationType.PROMOSI, MutationType.ANTAR_INSTANSI
        # The two well-known moves.
        new_in_unit = fixed["asn_new_in_unit"]
        self._move(
            new_in_unit,
            R,
            Stage.SELESAI,
            today - dt.timedelta(days=40),
            (_NEW_IN_UNIT_FROM, self.plan.people[new_in_unit].position),
        )
        in_mutation = fixed["asn_in_mutation"]
        unit = _FIXED_UNIT["asn_in_mutation"]
        self._move(
            in_mutation,
            P,
            Stage.PERTIMBANGAN_TPK,
            today - dt.timedelta(days=3),
            (unit, self.vacancies[unit].pop(0)),
        )
        # Completed moves: most in the last three months ("baru dimutasi"), a few older.
        for kind in (R, R, R, P, P, A):
            self._completed(kind, rng.randint(8, 80))
        for kind in (R, P, A):
            self._completed(kind, rng.randint(120, 240))
        # Unfinished and cancelled ones, at every stage.
        pending: list[tuple[Stage, MutationType, bool]] = [
            (Stage.DIUSULKAN, R, False),
            (Stage.DIUSULKAN, R, False),
            (Stage.DIUSULKAN, P, False),
            (Stage.DIUSULKAN, A, False),
            (Stage.VERIFIKASI, R, False),
            (Stage.VERIFIKASI, P, False),
            (Stage.VERIFIKASI, R, False),
            (Stage.VERIFIKASI, A, False),
            (Stage.DIKEMBALIKAN, R, False),
            (Stage.DIKEMBALIKAN, P, False),
            (Stage.DIKEMBALIKAN, A, False),
            (Stage.PERTIMBANGAN_TPK, R, False),
            (Stage.PERTIMBANGAN_TPK, R, True),
            (Stage.PERTIMBANGAN_TPK, P, False),
            (Stage.PERTEK_BKN, A, False),
            (Stage.PERTEK_BKN, A, True),
            (Stage.SK_TERBIT, R, False),
            (Stage.SK_TERBIT, P, False),
            (Stage.SK_TERBIT, A, False),
            (Stage.PELANTIKAN, R, False),
            (Stage.PELANTIKAN, P, False),
            (Stage.PELANTIKAN, R, False),
            (Stage.DIBATALKAN, R, False),
            (Stage.DIBATALKAN, P, False),
            (Stage.DIBATALKAN, A, False),
        ]
        for stage, kind, detour in pending:
            days_ago = rng.randint(20, 75) if stage is Stage.DIBATALKAN else rng.randint(1, 12)
            self._pending(kind, stage, today - dt.timedelta(days=days_ago), detour)

    def moved_in(self) -> dict[int, dt.date]:
        """Person -> effective date of a completed move."""
        return {
            m.person: m.tmt_date
            for m in self.plan.moves
            if m.stage is Stage.SELESAI and m.tmt_date is not None
        }

    # ----------------------------------------------------------------- evaluations

    def _ratings(self, quality: str) -> tuple[Rating, dict[str, str]]:
        rng = self.rng
        above, meets, below = Rating.DI_ATAS, Rating.SESUAI, Rating.DI_BAWAH
        work_weights = {"excellent": (70, 30, 0), "good": (12, 86, 2), "weak": (0, 45, 55)}
        target_weights = {"excellent": (70, 30, 0), "good": (14, 85, 1), "weak": (0, 65, 35)}
        order = (above, meets, below)
        work = rng.choices(order, work_weights[quality])[0]
        target = rng.choices(order, target_weights[quality])[0]
        neighbours = {above: (meets,), meets: (above, below), below: (meets,)}
        ratings = {
            key: (target if rng.random() < 0.75 else rng.choice(neighbours[target])).value
            for key in BERAKHLAK
        }
        return work, ratings

    def _feedback(self, result: Predicate) -> str | None:
        if result in NEEDS_COACHING or self.rng.random() < 0.35:
            return self.rng.choice(_FEEDBACK[result])
        return None

    def evaluations(self) -> None:
        rng, today, plan = self.rng, self.today, self.plan
        for delta in (-3, -2, -1, 0):
            year, month = _add_months(today.year, today.month, delta)
            next_year, next_month = _add_months(year, month, 1)
            plan.periods.append(
                _Period(
                    year=year,
                    month=month,
                    opens_on=dt.date(year, month, 1),
                    closes_on=_working_day(next_year, next_month, 5),
                    status="open" if delta == 0 else "locked",
                )
            )
        moved = self.moved_in()
        latest = _wib(today - dt.timedelta(days=1), 16)
        coaching = plan.fixed["asn_needs_coaching"]
        for index, period in enumerate(plan.periods[:-1]):
            month_end = _add_months(period.year, period.month, 1)
            last_day = dt.date(*month_end, 1) - dt.timedelta(days=1)
            for person in plan.people:
                boss = person.supervisor
                if boss is None or (rng.random() < 0.07 and person.key != coaching):
                    continue
                if any(moved.get(k, dt.date.min) > period.opens_on for k in (person.key, boss)):
                    continue
                work, ratings = self._ratings(person.quality)
                if person.key == coaching and index == len(plan.periods) - 2:
                    work = Rating.DI_BAWAH
                behaviour = summarise_behaviour(ratings.values())
                result = predicate(work, behaviour)
                day = (
                    last_day
                    - dt.timedelta(days=2)
                    + dt.timedelta(days=rng.randint(0, (period.closes_on - last_day).days + 2))
                )
                submitted = min(_wib(day, rng.randint(8, 15), rng.randint(0, 59)), latest)
                plan.ratings.append(
                    _Rating(
                        period=index,
                        person=person.key,
                        evaluator=boss,
                        status="submitted",
                        work_result=work.value,
                        behaviour_ratings=ratings,
                        behaviour=behaviour.value,
                        predicate=result.value,
                        feedback=self._feedback(result),
                        current_step=None,
                        submitted_at=submitted,
                    )
                )
        # Current month: a few drafts (one for the demo supervisor), most not started.
        current = len(plan.periods) - 1
        supervisor = plan.fixed["supervisor"]
        reports = [p.key for p in plan.people if p.supervisor == supervisor]
        others = [p.key for p in plan.people if p.supervisor not in (None, supervisor)]
        drafted = [reports[-1], *rng.sample(others, 7)]
        for key in drafted:
            boss = plan.people[key].supervisor
            assert boss is not None
            work, ratings = self._ratings(plan.people[key].quality)
            done = rng.randint(1, len(BERAKHLAK) - 1)
            plan.ratings.append(
                _Rating(
                    period=current,
                    person=key,
                    evaluator=boss,
                    status="draft",
                    work_result=work.value,
                    behaviour_ratings=dict(list(ratings.items())[:done]),
                    behaviour=None,
                    predicate=None,
                    feedback=None,
                    current_step=BERAKHLAK[done],
                    submitted_at=None,
                )
            )

    # ----------------------------------------------------------------- trainings

    def _session(
        self,
        title: str,
        day: dt.date,
        *,
        days: int = 1,
        hours: tuple[int, int] = (8, 16),
        place: str = "",
        link: str | None = None,
        move: int | None = None,
        people: Sequence[int] = (),
        pool: Sequence[int] = (),
        size: int = 10,
    ) -> None:
        rng, plan = self.rng, self.plan
        past = day < self.today
        day = _weekday_back(day) if past else _weekday_forward(day)
        end_day = day + dt.timedelta(days=days - 1)
        keys = list(dict.fromkeys(people))[:30]
        extra = [k for k in dict.fromkeys(pool) if k not in keys]
        keys += rng.sample(extra, max(0, min(size - len(keys), len(extra))))
        attendees = []
        for key in keys:
            if past:
                attendance = "hadir" if rng.random() < 0.85 else "tidak_hadir"
                responded = _wib(day, 7) - dt.timedelta(hours=rng.randint(2, 96))
                attendees.append(_Attendee(key, attendance, responded))
            elif rng.random() < 0.35:
                answer = "hadir" if rng.random() < 0.85 else "tidak_hadir"
                responded = _wib(self.today - dt.timedelta(days=1), rng.randint(8, 20))
                attendees.append(_Attendee(key, answer, responded))
            else:
                attendees.append(_Attendee(key))
        plan.sessions.append(
            _Session(
                code=f"DIKLAT-{day.year}-{len(plan.sessions) + 1:02d}",
                title=title,
                starts_at=_wib(day, hours[0]),
                ends_at=_wib(end_day, hours[1]),
                place=place,
                online_link=link,
                move=move,
                attendees=attendees,
            )
        )

    def trainings(self) -> None:
        plan, today = self.plan, self.today
        people = plan.people
        everyone = [p.key for p in people]
        staff = [p.key for p in people if p.level == 3]
        leaders = [p.key for p in people if p.level == 2]
        by_unit: dict[str, list[int]] = {}
        for p in people:
            by_unit.setdefault(p.unit, []).append(p.key)
        selesai = [i for i, m in enumerate(plan.moves) if m.stage is Stage.SELESAI]
        recent = [i for i in selesai if plan.moves[i].tmt_date >= today - dt.timedelta(days=90)]

        def day(delta: int) -> dt.date:
            return today + dt.timedelta(days=delta)

        def moved_before(limit: dt.date) -> list[int]:
            return [plan.moves[i].person for i in selesai if plan.moves[i].tmt_date < limit]

        def at(*stages: Stage) -> list[int]:
            return [m.person for m in plan.moves if m.stage in stages]

        balai = "Aula Balai Kota Bukittinggi, Jl. Sudirman"
        orientation_move = min(selesai, key=lambda i: plan.moves[i].tmt_date)
        self._session(
            "Orientasi Jabatan Baru Angkatan I",
            day(-50),
            place=balai,
            move=orientation_move,
            people=moved_before(day(-50)),
            pool=staff,
            size=12,
        )
        self._session(
            "Pelatihan Pelayanan Publik Prima",
            day(-32),
            days=2,
            place="Hotel The Hills Bukittinggi, Jl. Laras Datuak Bandaro",
            pool=[
                k
                for u in (
                    "Dinas Kependudukan dan Pencatatan Sipil",
                    "RSUD Kota Bukittinggi",
                    "Dinas Sosial",
                    "Kecamatan Guguk Panjang",
                    "Kecamatan Mandiangin Koto Selayan",
                    "Kecamatan Aur Birugo Tigo Baleh",
                )
                for k in by_unit[u]
                if people[k].level == 3
            ],
            size=24,
        )
        hr = plan.fixed["hr_admin"]
        self._session(
            "Bimtek SIASN bagi Pengelola Kepegawaian",
            day(-17),
            hours=(8, 12),
            place="Ruang Rapat BKPSDM Kota Bukittinggi, Jl. Sudirman",
            # Officers who keep personnel data: HR analysts first, then unit operators.
            people=[
                hr,
                *(k for k in staff if "Kepegawaian" in people[k].position),
                *(k for k in by_unit["BKPSDM"] if people[k].level == 3),
            ][:12],
            pool=[
                k for k in staff if people[k].position.startswith(("Pengadministrasi", "Pranata"))
            ],
            size=15,
        )
        promoted = [
            plan.moves[i] for i in selesai if plan.moves[i].mutation_type is MutationType.PROMOSI
        ]
        self._session(
            "Pelatihan Kepemimpinan Pengawas (PKP)",
            day(-12),
            days=3,
            place="Istana Bung Hatta, Jl. Istana, Bukittinggi",
            move=plan.moves.index(promoted[0]) if promoted else None,
            people=[m.person for m in promoted],
            pool=leaders,
            size=16,
        )
        in_mutation = plan.fixed["asn_in_mutation"]
        self._session(
            "Pembekalan Calon Pejabat dan Pegawai yang Dimutasi",
            day(5),
            place=balai,
            move=next(i for i, m in enumerate(plan.moves) if m.person == in_mutation),
            people=[in_mutation, *at(Stage.PERTIMBANGAN_TPK, Stage.PERTEK_BKN, Stage.SK_TERBIT)],
            pool=staff,
            size=12,
        )
        pelantikan = [i for i, m in enumerate(plan.moves) if m.stage is Stage.PELANTIKAN]
        self._session(
            "Orientasi Jabatan Baru Angkatan II",
            day(9),
            place=balai,
            move=pelantikan[0] if pelantikan else None,
            people=[
                *at(Stage.SK_TERBIT, Stage.PELANTIKAN),
                *(plan.moves[i].person for i in recent),
            ],
            pool=staff,
            size=14,
        )
        self._session(
            "Webinar Penilaian Kinerja Bulanan (SKP) bagi Pejabat Penilai",
            day(13),
            hours=(9, 12),
            place="Daring (Zoom Meeting)",
            link="https://zoom.us/j/81234567890",
            people=[plan.fixed["supervisor"]],
            pool=leaders,
            size=30,
        )
        last_locked = len(plan.periods) - 2
        coaching = [
            r.person
            for r in plan.ratings
            if r.period == last_locked and r.predicate in {p.value for p in NEEDS_COACHING}
        ]
        self._session(
            "Pembinaan Kinerja dan Disiplin Pegawai",
            day(20),
            place="Aula BKPSDM Kota Bukittinggi, Jl. Sudirman",
            people=[plan.fixed["asn_needs_coaching"], *coaching],
            pool=everyone,
            size=6,
        )


def _plan(seed: int, today: dt.date, employees: int) -> _Plan:
    planner = _Planner(seed, today, employees)
    planner.people()
    planner.mutations()
    planner.evaluations()
    planner.trainings()
    for person in planner.plan.people:
        nip, problem = check_nip(person.nip, person.employee_type, today=today)
        assert problem is None and nip == person.nip, (person.nip, problem)
        assert normalize_phone(person.phone) == person.phone
    return planner.plan


# --------------------------------------------------------------------------- writing


async def _counts(session: AsyncSession, created: bool) -> DemoSummary:
    async def count(column: Any) -> int:
        return int(await session.scalar(select(func.count(column))) or 0)

    return DemoSummary(
        units=await count(Unit.id),
        employees=await count(Employee.id),
        supervisors=await count(Employee.supervisor_id.distinct()),
        mutations=await count(Mutation.id),
        trainings=await count(Training.id),
        participants=await count(TrainingParticipant.id),
        evaluations=await count(Evaluation.id),
        created=created,
    )


async def _write_people(session: AsyncSession, plan: _Plan) -> list[Employee]:
    units = {u.name: u for u in (await session.scalars(select(Unit))).all()}
    missing = [Unit(name=spec.name) for spec in _UNITS if spec.name not in units]
    session.add_all(missing)
    await session.flush()
    units.update((u.name, u) for u in missing)
    rows: list[Employee | None] = [None] * len(plan.people)
    for level in range(4):
        batch = []
        for person in plan.people:
            if person.level != level:
                continue
            boss = rows[person.supervisor] if person.supervisor is not None else None
            row = Employee(
                nip=person.nip,
                name=person.name,
                employee_type=person.employee_type,
                position=person.position,
                rank=person.rank,
                unit_id=units[person.unit].id,
                supervisor_id=boss.id if boss is not None else None,
                phone=person.phone,
                role=person.role,
            )
            rows[person.key] = row
            batch.append(row)
        session.add_all(batch)
        await session.flush()
    return [row for row in rows if row is not None]


async def _write_mutations(
    session: AsyncSession, plan: _Plan, rows: list[Employee]
) -> list[Mutation]:
    admin = rows[plan.fixed["hr_admin"]]
    mutations = []
    for move in plan.moves:
        mutation = Mutation(
            employee_id=rows[move.person].id,
            mutation_type=move.mutation_type.value,
            from_unit=move.from_unit,
            from_position=move.from_position,
            to_unit=move.to_unit,
            to_position=move.to_position,
            external=move.external,
            stage=move.stage.value,
            stage_changed_at=move.events[-1].at,
            sk_number=move.sk_number,
            sk_date=move.sk_date,
            tmt_date=move.tmt_date,
            note=move.note,
            created_at=move.events[0].at,
            updated_at=move.events[-1].at,
        )
        mutation.events = [
            MutationEvent(
                from_stage=event.from_stage.value if event.from_stage else None,
                to_stage=event.to_stage.value,
                changed_at=event.at,
                changed_by_id=admin.id,
                changed_by_label=admin.name,
                note=event.note,
                notified_at=event.at,  # history: loading the demo tells nobody
            )
            for event in move.events
        ]
        mutations.append(mutation)
    session.add_all(mutations)
    await session.flush()
    return mutations


async def _write_trainings(
    session: AsyncSession, plan: _Plan, rows: list[Employee], mutations: list[Mutation]
) -> None:
    for item in plan.sessions:
        training = Training(
            code=item.code,
            title=item.title,
            starts_at=item.starts_at,
            ends_at=item.ends_at,
            place=item.place,
            online_link=item.online_link,
            mutation_id=mutations[item.move].id if item.move is not None else None,
        )
        training.participants = [
            TrainingParticipant(
                employee_id=rows[a.person].id,
                attendance=a.attendance,
                responded_at=a.responded_at,
            )
            for a in item.attendees
        ]
        session.add(training)
    await session.flush()


async def _write_evaluations(session: AsyncSession, plan: _Plan, rows: list[Employee]) -> None:
    existing = {
        (p.year, p.month): p for p in (await session.scalars(select(EvaluationPeriod))).all()
    }
    periods = []
    for item in plan.periods:
        period = existing.get((item.year, item.month))
        if period is None:
            period = EvaluationPeriod(year=item.year, month=item.month)
            session.add(period)
        period.opens_on, period.closes_on, period.status = (
            item.opens_on,
            item.closes_on,
            item.status,
        )
        periods.append(period)
    await session.flush()
    session.add_all(
        Evaluation(
            period_id=periods[r.period].id,
            employee_id=rows[r.person].id,
            evaluator_id=rows[r.evaluator].id,
            status=r.status,
            work_result=r.work_result,
            behaviour_ratings=r.behaviour_ratings,
            behaviour=r.behaviour,
            predicate=r.predicate,
            feedback=r.feedback,
            current_step=r.current_step,
            submitted_at=r.submitted_at,
            **_stamps(r.submitted_at),
        )
        for r in plan.ratings
    )
    await session.flush()


def _stamps(submitted_at: dt.datetime | None) -> dict[str, dt.datetime]:
    if submitted_at is None:
        return {}
    return {"created_at": submitted_at - dt.timedelta(minutes=20), "updated_at": submitted_at}


async def load_demo(
    sessionmaker: async_sessionmaker[AsyncSession],
    *,
    seed: int = 2026,
    today: dt.date | None = None,
    employees: int = 320,
) -> DemoSummary:
    """Load the demo data set into a database that has no employees yet.

    Deterministic for a given ``seed`` and ``today`` (default: today in WIB); writes at
    least ``employees`` employees in one transaction. When the database already has
    employees nothing is written and the summary (``created=False``) describes what is there.
    """
    if employees < MIN_EMPLOYEES:
        raise ValueError(f"the demo needs at least {MIN_EMPLOYEES} employees")
    today = today or dt.datetime.now(WIB).date()
    async with sessionmaker() as session, session.begin():
        if await session.scalar(select(func.count(Employee.id))):
            return await _counts(session, created=False)
        plan = _plan(seed, today, employees)
        rows = await _write_people(session, plan)
        mutations = await _write_mutations(session, plan, rows)
        await _write_trainings(session, plan, rows, mutations)
        await _write_evaluations(session, plan, rows)
        summary = DemoSummary(
            units=len(_UNITS),
            employees=len(rows),
            supervisors=len({p.supervisor for p in plan.people if p.supervisor is not None}),
            mutations=len(mutations),
            trainings=len(plan.sessions),
            participants=sum(len(s.attendees) for s in plan.sessions),
            evaluations=len(plan.ratings),
            created=True,
        )
        session.add(
            AuditLog(
                actor_label=DEMO_ACTOR,
                action="demo_load",
                entity_type="database",
                details={"seed": seed, "today": today.isoformat()}
                | {k: v for k, v in asdict(summary).items() if k != "created"},
            )
        )
    return summary
