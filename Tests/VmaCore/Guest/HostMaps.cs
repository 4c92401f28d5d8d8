using System;
using System.Globalization;
using System.IO;

namespace Tests.VmaCore.Guest;

/// <summary>The host's own <c>/proc/self/maps</c>, read per page.</summary>
internal static class HostMaps
{
    /// <summary>The "rwx" letters of every host page in [<paramref name="start"/>, +<paramref name="pages"/> pages); "none" where nothing is mapped.</summary>
    public static string[] Permissions(nint start, int pages)
    {
        var result = new string[pages];
        Array.Fill(result, "none");
        ulong first = (ulong)start;
        ulong end = first + ((ulong)pages * GuestMemoryFixture.Page);
        foreach (string line in File.ReadLines("/proc/self/maps"))
        {
            int dash = line.IndexOf('-', StringComparison.Ordinal);
            int space = line.IndexOf(' ', StringComparison.Ordinal);
            ulong lineStart = ulong.Parse(line.AsSpan(0, dash), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
            ulong lineEnd = ulong.Parse(line.AsSpan(dash + 1, space - dash - 1), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
            string perms = line.Substring(space + 1, 3);
            for (ulong page = Math.Max(lineStart, first); page < Math.Min(lineEnd, end); page += GuestMemoryFixture.Page)
            {
                result[(int)((page - first) / GuestMemoryFixture.Page)] = perms;
            }
        }

        return result;
    }

    /// <summary>'s' when the host maps the page at <paramref name="address"/> shared, 'p' when private, '?' when unmapped.</summary>
    public static char SharingAt(nint address)
    {
        foreach (string line in File.ReadLines("/proc/self/maps"))
        {
            int dash = line.IndexOf('-', StringComparison.Ordinal);
            int space = line.IndexOf(' ', StringComparison.Ordinal);
            ulong lineStart = ulong.Parse(line.AsSpan(0, dash), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
            ulong lineEnd = ulong.Parse(line.AsSpan(dash + 1, space - dash - 1), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
            if ((ulong)address >= lineStart && (ulong)address < lineEnd)
            {
                return line[space + 4];
            }
        }

        return '?';
    }

    /// <summary>The "rwx" letters of the host page at <paramref name="address"/>.</summary>
    public static string PermissionsAt(nint address) => Permissions(address, 1)[0];

    /// <summary>The "rwx" letters of a host protection.</summary>
    public static string Letters(VmaEngine.Native.HostProtection protection) => string.Concat(
        (protection & VmaEngine.Native.HostProtection.Read) != 0 ? "r" : "-",
        (protection & VmaEngine.Native.HostProtection.Write) != 0 ? "w" : "-",
        (protection & VmaEngine.Native.HostProtection.Execute) != 0 ? "x" : "-");
}
