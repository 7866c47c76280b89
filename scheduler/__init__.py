"""County timetable: data, import, solver, validator, calendars, iCalendar, supervision (no web, no media)."""
