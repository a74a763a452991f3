package dev.fflama.chat;

import java.time.DayOfWeek;
import java.time.ZonedDateTime;
import java.time.format.TextStyle;
import java.time.temporal.ChronoField;
import java.time.temporal.IsoFields;
import java.util.Locale;

/**
 * Python's {@code datetime.strftime} in the C locale, for the {@code strftime_now(format)} global
 * that HF templates (Llama 3.2, Granite, ...) call for "today's date". Covers the C89 directives,
 * the ISO ones ({@code %G %V %u}) and glibc's {@code %-d}-style no-padding flag; an unknown
 * directive is copied through as glibc does.
 */
final class Strftime {

    private Strftime() {}

    static String format(ZonedDateTime t, String fmt) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < fmt.length(); i++) {
            char c = fmt.charAt(i);
            if (c != '%' || i + 1 >= fmt.length()) {
                sb.append(c);
                continue;
            }
            boolean noPad = false;
            int j = i + 1;
            if (fmt.charAt(j) == '-' && j + 1 < fmt.length()) {
                noPad = true;
                j++;
            }
            char d = fmt.charAt(j);
            String v = directive(t, d, noPad);
            if (v == null) {
                sb.append(fmt, i, j + 1);
            } else {
                sb.append(v);
            }
            i = j;
        }
        return sb.toString();
    }

    private static String pad(long v, int width, boolean noPad) {
        String s = Long.toString(v);
        if (noPad || s.length() >= width) {
            return s;
        }
        return "0".repeat(width - s.length()) + s;
    }

    private static String directive(ZonedDateTime t, char d, boolean noPad) {
        Locale c = Locale.US;
        return switch (d) {
            case 'a' -> t.getDayOfWeek().getDisplayName(TextStyle.SHORT, c);
            case 'A' -> t.getDayOfWeek().getDisplayName(TextStyle.FULL, c);
            case 'w' -> Integer.toString(t.getDayOfWeek().getValue() % 7);
            case 'u' -> Integer.toString(t.getDayOfWeek().getValue());
            case 'd' -> pad(t.getDayOfMonth(), 2, noPad);
            case 'e' -> noPad ? Integer.toString(t.getDayOfMonth()) : String.format(c, "%2d", t.getDayOfMonth());
            case 'b', 'h' -> t.getMonth().getDisplayName(TextStyle.SHORT, c);
            case 'B' -> t.getMonth().getDisplayName(TextStyle.FULL, c);
            case 'm' -> pad(t.getMonthValue(), 2, noPad);
            case 'y' -> pad(Math.floorMod(t.getYear(), 100), 2, noPad);
            case 'Y' -> Integer.toString(t.getYear());
            case 'C' -> pad(Math.floorDiv(t.getYear(), 100), 2, noPad);
            case 'G' -> Integer.toString(t.get(IsoFields.WEEK_BASED_YEAR));
            case 'V' -> pad(t.get(IsoFields.WEEK_OF_WEEK_BASED_YEAR), 2, noPad);
            case 'H' -> pad(t.getHour(), 2, noPad);
            case 'I' -> pad(t.getHour() % 12 == 0 ? 12 : t.getHour() % 12, 2, noPad);
            case 'p' -> t.getHour() < 12 ? "AM" : "PM";
            case 'M' -> pad(t.getMinute(), 2, noPad);
            case 'S' -> pad(t.getSecond(), 2, noPad);
            case 'f' -> pad(t.getNano() / 1000, 6, false);
            case 'j' -> pad(t.getDayOfYear(), 3, noPad);
            case 'U' -> pad(weekOfYear(t, DayOfWeek.SUNDAY), 2, noPad);
            case 'W' -> pad(weekOfYear(t, DayOfWeek.MONDAY), 2, noPad);
            case 'z' -> offset(t);
            case 'Z' -> t.getZone().getDisplayName(TextStyle.SHORT, c);
            case 'c' -> format(t, "%a %b %e %H:%M:%S %Y");
            case 'x' -> format(t, "%m/%d/%y");
            case 'X' -> format(t, "%H:%M:%S");
            case 'D' -> format(t, "%m/%d/%y");
            case 'F' -> format(t, "%Y-%m-%d");
            case 'T' -> format(t, "%H:%M:%S");
            case 'R' -> format(t, "%H:%M");
            case 'n' -> "\n";
            case 't' -> "\t";
            case '%' -> "%";
            default -> null;
        };
    }

    /** Week number with weeks starting on {@code first}; days before the first such day are week 0. */
    private static int weekOfYear(ZonedDateTime t, DayOfWeek first) {
        int doy = t.getDayOfYear() - 1;
        int dow = (t.getDayOfWeek().getValue() - first.getValue() + 7) % 7; // days since week start
        return (doy - dow + 7) / 7;
    }

    private static String offset(ZonedDateTime t) {
        int secs = t.getOffset().get(ChronoField.OFFSET_SECONDS);
        char sign = secs < 0 ? '-' : '+';
        secs = Math.abs(secs);
        return sign + pad(secs / 3600, 2, false) + pad((secs / 60) % 60, 2, false);
    }
}
