"""Stable names for HA's unit_of_measurement symbols, and the symbols back for people.

Symbols vary in spelling (HA itself writes micro both as the micro sign and as Greek mu) and
are awkward as identifiers in queries; names are what the store and machines use (`unit`). People
read the symbol as HA displays it (`unit_of_measurement`: °C, W, kWh, %), which the query API adds.
A symbol not listed (currency rates such as "EUR/kWh", integration-specific units) is kept as is.
"""

from __future__ import annotations

_MICRO_SIGN = "\u00b5"  # µ, what keyboards produce
_GREEK_MU = "\u03bc"  # μ, what HA's own constants use

_NAMES: dict[str, str] = {
    # temperature
    "°C": "celsius", "°F": "fahrenheit", "K": "kelvin",
    # pressure
    "Pa": "pascal", "hPa": "hectopascal", "kPa": "kilopascal", "bar": "bar", "cbar": "centibar",
    "mbar": "millibar", "inHg": "inch_of_mercury", "psi": "pound_per_square_inch",
    "mmHg": "millimeter_of_mercury",
    # ratios and concentrations
    "%": "percent", "ppm": "parts_per_million", "ppb": "parts_per_billion",
    "μg/m³": "microgram_per_cubic_meter", "mg/m³": "milligram_per_cubic_meter",
    # power and energy
    "W": "watt", "kW": "kilowatt", "MW": "megawatt", "Wh": "watt_hour", "kWh": "kilowatt_hour",
    "MWh": "megawatt_hour", "MJ": "megajoule", "GJ": "gigajoule",
    "VA": "volt_ampere", "var": "volt_ampere_reactive", "W/m²": "watt_per_square_meter",
    # electricity
    "V": "volt", "mV": "millivolt", "A": "ampere", "mA": "milliampere", "Hz": "hertz",
    "kHz": "kilohertz", "MHz": "megahertz", "GHz": "gigahertz",
    # light and sound
    "lx": "lux", "lm": "lumen", "dB": "decibel", "dBm": "decibel_milliwatt", "dBA": "a_weighted_decibel",
    # length
    "mm": "millimeter", "cm": "centimeter", "m": "meter", "km": "kilometer",
    "in": "inch", "ft": "foot", "yd": "yard", "mi": "mile",
    # volume and flow
    "mL": "milliliter", "L": "liter", "m³": "cubic_meter", "ft³": "cubic_foot", "gal": "gallon",
    "m³/h": "cubic_meter_per_hour", "ft³/min": "cubic_foot_per_minute", "L/min": "liter_per_minute",
    "gal/min": "gallon_per_minute",
    # mass
    "μg": "microgram", "mg": "milligram", "g": "gram", "kg": "kilogram", "oz": "ounce", "lb": "pound",
    # time
    "μs": "microsecond", "ms": "millisecond", "s": "second", "min": "minute", "h": "hour", "d": "day",
    "w": "week", "y": "year",
    # speed and precipitation intensity
    "m/s": "meter_per_second", "km/h": "kilometer_per_hour", "mph": "mile_per_hour", "kn": "knot",
    "ft/s": "foot_per_second", "mm/h": "millimeter_per_hour", "in/h": "inch_per_hour",
    "mm/d": "millimeter_per_day", "in/d": "inch_per_day",
    # information and data rate
    "bit": "bit", "B": "byte", "kB": "kilobyte", "MB": "megabyte", "GB": "gigabyte", "TB": "terabyte",
    "KiB": "kibibyte", "MiB": "mebibyte", "GiB": "gibibyte", "TiB": "tebibyte",
    "bit/s": "bit_per_second", "kbit/s": "kilobit_per_second", "Mbit/s": "megabit_per_second",
    "Gbit/s": "gigabit_per_second", "B/s": "byte_per_second", "kB/s": "kilobyte_per_second",
    "MB/s": "megabyte_per_second", "GB/s": "gigabyte_per_second",
    # angle
    "°": "degree",
}


_SYMBOLS: dict[str, str] = {name: symbol for symbol, name in _NAMES.items()}


def unit_name(unit: str | None) -> str | None:
    """The stable name of an HA unit symbol; unknown symbols come back stripped; None or blank → None."""
    if unit is None:
        return None
    symbol = unit.strip()
    if not symbol:
        return None
    return _NAMES.get(symbol.replace(_MICRO_SIGN, _GREEK_MU), symbol)


def unit_symbol(name: str | None) -> str | None:
    """The symbol HA displays for a unit name (`celsius` -> `°C`); an unlisted name is its own symbol."""
    return _SYMBOLS.get(name, name) if name else None


def displayed(unit: str | None, attributes: object = None) -> str | None:
    """What HA displays for a record's unit: its own unit_of_measurement attribute when the record kept it, else
    the symbol of the normalized name."""
    own = attributes.get("unit_of_measurement") if isinstance(attributes, dict) else None
    return (own.strip() or None) if isinstance(own, str) else unit_symbol(unit)
