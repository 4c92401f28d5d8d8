using System;
using System.Collections.Generic;

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
