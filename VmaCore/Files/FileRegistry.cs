using System;
using System.Collections.Generic;
using System.IO;
using Microsoft.Win32.SafeHandles;

namespace VmaEngine.Vma.Files;

/// <summary>
/// The files of one guest (or one trace): opening a name twice gives the same file, as every mapping of a name in
/// a trace maps the same memfd. Disposing the registry closes every handle it opened.
/// </summary>
public sealed class FileRegistry : IDisposable
{
    /// <summary>The open files by name; guarded by itself.</summary>
    private readonly Dictionary<string, MappedFile> _files = new(StringComparer.Ordinal);

    /// <summary>
    /// The file named <paramref name="name"/>, created with <paramref name="sizePages"/> pages (sparse, readable and
    /// writable) the first time it is asked for.
    /// </summary>
    /// <exception cref="ArgumentException">The name is empty, or the file exists with another size.</exception>
    public MappedFile Open(string name, ulong sizePages)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        lock (_files)
        {
            if (_files.TryGetValue(name, out MappedFile? file))
            {
                if (file.SizePages != sizePages)
                {
                    throw new ArgumentException(
                        $"file '{name}' is open with {file.SizePages} pages, not {sizePages}", nameof(sizePages));
                }

                return file;
            }

            file = new MappedFile(name, sizePages, canRead: true, canWrite: true);
            _files.Add(name, file);
            return file;
        }
    }

    /// <summary>
    /// Opens a file that is not shared through the registry, with the given access modes (<c>FMODE_READ</c>,
    /// <c>FMODE_WRITE</c>), for mappings that must see mmap's permission checks. The caller disposes it.
    /// </summary>
    public static MappedFile OpenPrivate(string name, ulong sizePages, bool canRead, bool canWrite)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        return new MappedFile(name, sizePages, canRead, canWrite);
    }

    /// <summary>
    /// Opens a file whose pages are the host file <paramref name="handle"/>, for <see cref="Guest.GuestMemory"/> to
    /// map: shared mappings write the host file, private ones copy on write. The size is the host file's length
    /// rounded up to pages, fixed from now on (faults beyond it are SIGBUS, on the host too). The mapping machinery
    /// takes its own reference on the handle, so the host may dispose its handle once it has disposed the returned
    /// file, or earlier if no mapping outlives it. The caller disposes the returned file.
    /// </summary>
    /// <param name="name">The name maps prints.</param>
    /// <param name="handle">The open host file; its access must include what <paramref name="canRead"/> and <paramref name="canWrite"/> claim.</param>
    /// <param name="canRead">Whether the file was opened for reading (<c>FMODE_READ</c>).</param>
    /// <param name="canWrite">Whether the file was opened for writing (<c>FMODE_WRITE</c>).</param>
    /// <exception cref="ArgumentException">The name is empty.</exception>
    /// <exception cref="ArgumentNullException">The handle is null.</exception>
    /// <exception cref="ObjectDisposedException">The handle is closed.</exception>
    public static MappedFile OpenHost(string name, SafeFileHandle handle, bool canRead, bool canWrite)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(handle);
        ObjectDisposedException.ThrowIf(handle.IsClosed, handle);
        ulong sizePages = ((ulong)RandomAccess.GetLength(handle) + MmConstants.PageSize - 1) >> MmConstants.PageShift;
        var file = new MappedFile(name, sizePages, canRead, canWrite);
        HostFiles.Register(file.Id, handle);
        return file;
    }

    /// <summary>Closes every file the registry opened; mappings keep theirs.</summary>
    public void Dispose()
    {
        lock (_files)
        {
            foreach (MappedFile file in _files.Values)
            {
                file.Dispose();
            }

            _files.Clear();
        }
    }
}
