"""A local HTTP server that speaks the Gemini REST API for the calls imagejobs makes.

Start it with ``imagejobs emulator`` or in-process with :class:`EmulatorServer`; drive faults and
scripted answers with :class:`EmulatorControl`. See docs/emulator.md.
"""

from imagejobs.emulator.background import EmulatorServer
from imagejobs.emulator.config import EmulatorConfig, Faults
from imagejobs.emulator.control import EmulatorControl, EmulatorControlError
from imagejobs.emulator.server import create_app

__all__ = [
    "EmulatorConfig",
    "EmulatorControl",
    "EmulatorControlError",
    "EmulatorServer",
    "Faults",
    "create_app",
]
