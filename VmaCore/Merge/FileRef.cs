using System.Threading;

namespace VmaEngine.Vma.Merge;

/// <summary>The references a VMA holds on its file (<c>get_file</c> / <c>fput</c>).</summary>
internal static unsafe class FileRef
{
    /// <summary><c>get_file</c>: takes a reference on <paramref name="file"/> (null has none) and returns it.</summary>
    public static VmFile* Get(VmFile* file)
    {
        if (file != null)
        {
            Interlocked.Increment(ref file->RefCount);
        }

        return file;
    }

    /// <summary>
    /// <c>fput</c>: drops a reference taken with <see cref="Get"/>; the last one frees the file (<see cref="VmFile.Put"/>),
    /// so a shared anonymous object, and a file whose handle was closed, go with their last mapping.
    /// </summary>
    public static void Put(VmFile* file)
    {
        if (file != null)
        {
            VmFile.Put(file);
        }
    }
}
