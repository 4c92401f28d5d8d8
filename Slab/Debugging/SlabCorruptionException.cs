using System;

namespace Slab;

/// <summary>
/// Thrown by a debug cache (<see cref="SlabFlags.Debug"/>) when it detects misuse or corruption. The cache has
/// changed nothing that the misuse did not already damage; it stays usable.
/// </summary>
public sealed class SlabCorruptionException : InvalidOperationException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="cacheName">The cache that detected the problem.</param>
    /// <param name="address">The object address concerned.</param>
    /// <param name="kind">What was wrong.</param>
    /// <param name="message">The full description, naming the cache, the address and the fault.</param>
    public SlabCorruptionException(string cacheName, nint address, SlabCorruptionKind kind, string message)
        : base(message)
    {
        CacheName = cacheName;
        Address = address;
        Kind = kind;
    }

    /// <summary>The cache that detected the problem.</summary>
    public string CacheName { get; }

    /// <summary>The object address concerned.</summary>
    public nint Address { get; }

    /// <summary>What was wrong.</summary>
    public SlabCorruptionKind Kind { get; }
}
