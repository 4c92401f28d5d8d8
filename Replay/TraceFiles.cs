using System;
using System.Collections.Generic;
using Microsoft.Win32.SafeHandles;
using Replay.Trace;
using VmaEngine.Native;
using VmaEngine.Vma;
using VmaEngine.Vma.Files;

namespace Replay;

/// <summary>
/// The files of one trace run, one per name, as the oracle creates them: <see cref="TraceParser.FilePages"/> pages,
/// sparse, opened for reading and writing. Unbacked, a file is the engine's alone; backed (<c>--backed</c>), it is a
/// host memfd of that size given to <see cref="FileRegistry.OpenHost"/>, so that the backed mappings of the name, in
/// the trace's process and in its fork children, share its pages and a touch beyond its end faults as on the oracle.
/// </summary>
/// <remarks>
/// Disposing closes the run's references: the engine's file of each name and so, once the last mapping of it went
/// with its address space, the host descriptor (the mappings hold their own reference on it, as VMAs hold their
/// <c>struct file</c>). The run's own <see cref="SafeFileHandle"/> is closed as soon as the engine has its reference.
/// </remarks>
internal sealed class TraceFiles(bool backed) : IDisposable
{
    /// <summary>The oracle's file size in bytes.</summary>
    private const ulong FileBytes = TraceParser.FilePages << MmConstants.PageShift;

    /// <summary>The files opened so far, by name.</summary>
    private readonly Dictionary<string, MappedFile> _files = new(StringComparer.Ordinal);

    /// <summary>The file named <paramref name="name"/>, created the first time the run asks for it.</summary>
    /// <exception cref="VmaEngine.Native.OsPagesException">Backed: the host refused the memfd.</exception>
    public MappedFile Open(string name)
    {
        if (!_files.TryGetValue(name, out MappedFile? file))
        {
            file = backed ? OpenHostFile(name) : FileRegistry.OpenPrivate(name, TraceParser.FilePages, canRead: true, canWrite: true);
            _files.Add(name, file);
        }

        return file;
    }

    /// <summary>Drops the run's reference on every file it opened; mappings keep theirs.</summary>
    public void Dispose()
    {
        foreach (MappedFile file in _files.Values)
        {
            file.Dispose();
        }

        _files.Clear();
    }

    /// <summary>A host memfd named <paramref name="name"/> of <see cref="FileBytes"/> zero bytes, as a file the engine maps.</summary>
    private static MappedFile OpenHostFile(string name)
    {
        using SafeFileHandle memory = HostMapping.CreateSharedMemory(name, FileBytes);
        return FileRegistry.OpenHost(name, memory, canRead: true, canWrite: true);
    }
}
