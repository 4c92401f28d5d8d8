using System.Collections.Concurrent;
using System.Diagnostics;
using Microsoft.Win32.SafeHandles;

namespace VmaEngine.Vma.Files;

/// <summary>
/// The host side of a <see cref="VmFile"/> that real memory backs: the host descriptor a <see cref="MappedFile"/>
/// was opened with, or the shared-memory object (<c>memfd</c>) <see cref="Guest.GuestMemory"/> created for a shared
/// anonymous mapping. Keyed by <see cref="VmFile.Id"/>; each registered handle holds one reference on its descriptor
/// (<see cref="System.Runtime.InteropServices.SafeHandle.DangerousAddRef"/>), dropped when the file's last reference goes, so mappings keep the
/// descriptor open after the host closed its own handle, as Linux's VMAs keep their file.
/// </summary>
internal static class HostFiles
{
    /// <summary>The host handles of live files, by <see cref="VmFile.Id"/>.</summary>
    private static readonly ConcurrentDictionary<int, SafeFileHandle> s_handles = new();

    /// <summary>Records <paramref name="handle"/> as the host side of file <paramref name="id"/> and takes a reference on it.</summary>
    public static void Register(int id, SafeFileHandle handle)
    {
        bool added = false;
        handle.DangerousAddRef(ref added);
        Debug.Assert(added, "DangerousAddRef either adds or throws");
        bool fresh = s_handles.TryAdd(id, handle);
        Debug.Assert(fresh, "a file's host handle is registered once");
    }

    /// <summary>The host handle of file <paramref name="id"/>, or null when no host descriptor backs it.</summary>
    public static SafeFileHandle? HandleOf(int id) => s_handles.TryGetValue(id, out SafeFileHandle? handle) ? handle : null;

    /// <summary>Drops the reference on the host handle of a file whose last reference went, if it has one.</summary>
    public static void Forget(int id)
    {
        if (s_handles.TryRemove(id, out SafeFileHandle? handle))
        {
            handle.DangerousRelease();
        }
    }
}
