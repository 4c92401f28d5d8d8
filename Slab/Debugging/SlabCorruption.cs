using System;

namespace VmaEngine.Slab;

/// <summary>
/// The errors a cache reports about its objects. A debug cache (<see cref="SlabFlags.Debug"/>) throws a plain
/// <see cref="InvalidOperationException"/> for each detection; every cache, debug or not, checks each pointer
/// given to <c>Free</c> and throws an <see cref="ArgumentException"/> for a pointer that is not an object of the
/// cache in use or an immediate double free (debug caches throw their <see cref="InvalidOperationException"/>
/// instead). The message names the cache, the address and the fault, and <see cref="Exception.Data"/> carries the
/// same facts under <see cref="CacheKey"/>, <see cref="AddressKey"/> and <see cref="KindKey"/>. The cache has
/// changed nothing that the misuse did not already damage, and stays usable.
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

    /// <summary>Creates a debug cache's error for <paramref name="kind"/> at <paramref name="address"/> in cache <paramref name="cache"/>.</summary>
    internal static InvalidOperationException Create(string cache, nint address, SlabCorruptionKind kind, string message) =>
        WithFacts(new InvalidOperationException(message), cache, address, kind);

    /// <summary>Creates the error of a rejected argument <paramref name="parameter"/> (a pointer given to <c>Free</c>).</summary>
    internal static ArgumentException CreateArgument(string cache, nint address, SlabCorruptionKind kind, string message, string parameter) =>
        WithFacts(new ArgumentException(message, parameter), cache, address, kind);

    private static T WithFacts<T>(T exception, string cache, nint address, SlabCorruptionKind kind) where T : Exception
    {
        exception.Data[CacheKey] = cache;
        exception.Data[AddressKey] = address;
        exception.Data[KindKey] = kind;
        return exception;
    }
}
