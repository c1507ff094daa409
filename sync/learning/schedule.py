"""When an automatic night may start: inside the user's hours, idle, on power, once a day,
and only with something new to learn."""

from __future__ import annotations

from datetime import datetime, time, timedelta

MIN_GAP = timedelta(hours=20)  # one automatic night per night, whatever the hours


def parse_hours(text: str) -> tuple[time, time]:
    start, _, end = text.partition("-")
    return time.fromisoformat(start.strip()), time.fromisoformat(end.strip())


def in_hours(now: datetime, hours: str) -> bool:
    start, end = parse_hours(hours)
    t = now.time()
    if start <= end:
        return start <= t < end
    return t >= start or t < end  # e.g. 22:00-06:00 wraps past midnight


def on_power() -> bool | None:
    """True on mains power, False on battery, None when there is no battery (a desktop)."""
    try:
        import psutil

        battery = psutil.sensors_battery()
    except (ImportError, NotImplementedError, OSError):
        return None
    return None if battery is None else bool(battery.power_plugged)


def due(now: datetime, settings, *, idle_seconds: float, on_power: bool | None,
        last_night: datetime | None, new_examples: int) -> tuple[bool, str]:
    """(start now?, why not / why). `now` and `last_night` in the same clock (local time)."""
    if not settings.learning_auto:
        return False, "Automatic learning is off."
    if not in_hours(now, settings.learning_hours):
        return False, f"Outside the learning hours ({settings.learning_hours})."
    if settings.learning_power_only and on_power is False:
        return False, "On battery; learning waits for mains power."
    idle_needed = settings.learning_idle_minutes * 60
    if idle_seconds < idle_needed:
        return False, (f"In use; learning starts after {settings.learning_idle_minutes} idle "
                       f"minutes.")
    if last_night is not None and now - last_night < MIN_GAP:
        return False, "Already learned tonight."
    if new_examples <= 0:
        return False, "Nothing new to learn from since the last night."
    return True, f"{new_examples} new examples; starting tonight's learning."
