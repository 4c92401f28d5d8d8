using System;
using System.Runtime.InteropServices;
using System.Threading;

namespace VmaEngine.Vma.Locking;

/// <summary>
/// The mm's <c>vma_writer_wait</c>: where a VMA writer sleeps until readers leave, and where the last reader out
/// wakes it. The mm holds a GC handle to the monitor object in <see cref="MmStruct.WriterWaitHandle"/>, so unmanaged
/// code reaching the mm through a VMA can find it.
/// </summary>
internal static unsafe class WriterWait
{
    /// <summary>Spins this many times before sleeping; readers hold a VMA for a short time.</summary>
    private const int SpinIterations = 64;

    /// <summary>Creates the wait object of a new mm.</summary>
    public static void Init(MmStruct* mm) => mm->WriterWaitHandle = GCHandle.ToIntPtr(GCHandle.Alloc(new object()));

    /// <summary>Frees the wait object of an mm that is being destroyed.</summary>
    public static void Destroy(MmStruct* mm)
    {
        if (mm->WriterWaitHandle != IntPtr.Zero)
        {
            GCHandle.FromIntPtr(mm->WriterWaitHandle).Free();
            mm->WriterWaitHandle = IntPtr.Zero;
        }
    }

    /// <summary>Waits until the VMA's count equals <paramref name="target"/>.</summary>
    public static void Until(MmStruct* mm, VmArea* vma, int target)
    {
        if (Volatile.Read(ref vma->VmRefcnt) == target)
        {
            return;
        }

        VmaMetrics.Count(VmaMetrics.WriterWaits);
        var spinner = new SpinWait();
        for (int i = 0; i < SpinIterations; i++)
        {
            if (Volatile.Read(ref vma->VmRefcnt) == target)
            {
                return;
            }

            spinner.SpinOnce(sleep1Threshold: -1);
        }

        object monitor = Monitor(mm);
        lock (monitor)
        {
            // The reader decrements before taking the monitor to wake us, and we test under the monitor, so a wake
            // cannot fall between our test and our wait.
            while (Volatile.Read(ref vma->VmRefcnt) != target)
            {
                System.Threading.Monitor.Wait(monitor);
            }
        }
    }

    /// <summary>Wakes the writers waiting on the mm.</summary>
    public static void Wake(MmStruct* mm)
    {
        object monitor = Monitor(mm);
        lock (monitor)
        {
            System.Threading.Monitor.PulseAll(monitor);
        }
    }

    private static object Monitor(MmStruct* mm) => GCHandle.FromIntPtr(mm->WriterWaitHandle).Target!;
}
