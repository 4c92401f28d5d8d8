namespace VmaEngine.Vma;

/// <summary>What <see cref="AddressSpace.FormatMaps(MapsFormat)"/> prints for each VMA.</summary>
public enum MapsFormat
{
    /// <summary>
    /// Exactly what <c>/proc/pid/maps</c> prints: one line per VMA (<c>show_map_vma</c>).
    /// </summary>
    Maps,

    /// <summary>
    /// Each <c>/proc/pid/maps</c> line followed by the VMA's <c>VmFlags:</c> line of <c>/proc/pid/smaps</c>
    /// (<c>show_smap_vma_flags</c>), the other smaps fields left out; what <see cref="AddressSpace.FormatMaps()"/>
    /// prints.
    /// </summary>
    MapsWithVmFlags,
}
