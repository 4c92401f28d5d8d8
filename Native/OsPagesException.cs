using System;

namespace VmaEngine.Native;

/// <summary>
/// The operating system refused a page operation (a mapping, a protection change, a release).
/// The message names the call, the size and the error (an errno name such as <c>ENOMEM</c>, or a Win32 error code).
/// </summary>
public sealed class OsPagesException : Exception
{
    /// <summary>Creates the exception for a refused <paramref name="call"/> on <paramref name="size"/> bytes.</summary>
    public OsPagesException(string call, ulong size, string error)
        : base($"{call} of {size} bytes failed: {error}")
    {
        Call = call;
        Size = size;
        Error = error;
    }

    /// <summary>The refused system call, e.g. <c>mmap</c> or <c>VirtualAlloc</c>.</summary>
    public string Call { get; }

    /// <summary>The size in bytes the call was asked for.</summary>
    public ulong Size { get; }

    /// <summary>The error as the platform names it: an errno name on Unix, <c>Win32 error N</c> on Windows.</summary>
    public string Error { get; }
}
