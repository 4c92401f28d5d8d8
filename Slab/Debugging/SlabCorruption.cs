using System;

namespace VmaEngine.Slab;

/// <summary>
/// The errors of a debug cache (<see cref="SlabFlags.Debug"/>). Each detection throws a plain
/// <see cref="InvalidOperationException"/> whose message names the cache, the address and the fault, and whose
/// <see cref="Exception.Data"/> carries the same facts under <see cref="CacheKey"/>, <see cref="AddressKey"/> and
/// <see cref="KindKey"/>. The cache has changed nothing that the misuse did not already damage, and stays usable.
/// </summary>
public static class SlabCorruption
{
    /// <summary>The <see cref="Exception.Data"/> key of the cache name (a <see cref="string"/>).</summary>
    public const string CacheKey = "Slab.Cache";

    /// <summary>The <see cref="Exception.Data"/> key of the object address (an <see cref="IntPtr"/>).</summary>
    public const string AddressKey = "Slab.Address";

    /// <summary>The <see cref="Exception.Data"/> key of the fault (a <see cref="SlabCorruptionKind"/>).</summary>
    public const string KindKey = "Slab.Kind";

    /// <summary>What a debug cache found wrong, or null when <paramref name="exception"/> is not one of its errors.</summary>
    public static SlabCorruptionKind? KindOf(Exception exception)
    {
        ArgumentNullException.ThrowIfNull(exception);
        return exception.Data[KindKey] as SlabCorruptionKind?;
    }

    /// <summary>Creates the error for <paramref name="kind"/> at <paramref name="address"/> in cache <paramref name="cache"/>.</summary>
    internal static InvalidOperationException Create(string cache, nint address, SlabCorruptionKind kind, string message)
    {
        var exception = new InvalidOperationException(message);
        exception.Data[CacheKey] = cache;
        exception.Data[AddressKey] = address;
        exception.Data[KindKey] = kind;
        return exception;
    }
}
