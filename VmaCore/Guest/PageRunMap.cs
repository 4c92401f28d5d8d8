using System.Diagnostics;
using System.Runtime.CompilerServices;

namespace VmaEngine.Vma.Guest;

/// <summary>
/// The authoritative <see cref="TranslationEntry"/> flags of a <see cref="TranslationTable"/>, by page run: sorted,
/// disjoint runs [Start, End) of equal flags, holes (flags zero) left out, equal neighbours coalesced, so the map
/// holds about one run per VMA whatever the VMAs' sizes. The table's page entries are a cache of it, filled on
/// demand; what the map says of a page is what the host mapping allows there.
/// </summary>
/// <remarks>
/// A treap (Seidel and Aragon, "Randomized search trees", Algorithmica 16, 1996: split and merge by key, heap
/// order of random priorities) keyed by the runs' first address, its nodes in one array linked by index and recycled
/// through a free list, so a change allocates nothing once the array is large enough: a lookup costs O(log n), a
/// change O(log n) plus the runs it removes. One writer at a time, and no reader while it writes: the table keeps
/// <see cref="TranslationTable.Install"/> out while it changes the map.
/// </remarks>
internal sealed class PageRunMap
{
    /// <summary>The bytes of one node of <see cref="_nodes"/>.</summary>
    private static readonly int s_nodeBytes = Unsafe.SizeOf<Node>();

    /// <summary>No node: an empty subtree, the end of the free list.</summary>
    private const int None = -1;

    /// <summary>The nodes: the runs of the tree, the free list, and never-used slots from <see cref="_used"/> on.</summary>
    private Node[] _nodes = new Node[16];

    /// <summary>The slots of <see cref="_nodes"/> handed out at least once.</summary>
    private int _used;

    /// <summary>The first free node (linked through <see cref="Node.Right"/>), or <see cref="None"/>.</summary>
    private int _free = None;

    /// <summary>The root of the treap, or <see cref="None"/>.</summary>
    private int _root = None;

    /// <summary>The state of the fixed-seed xorshift generator of the nodes' priorities.</summary>
    private uint _priorities = 0x9E37_79B9;

    /// <summary>The runs held.</summary>
    public int Count { get; private set; }

    /// <summary>The host memory of the map: its node array, free slots included.</summary>
    public ulong MemoryBytes => (ulong)_nodes.Length * (ulong)s_nodeBytes;

    /// <summary>The flags of the page at <paramref name="address"/>; zero in a hole.</summary>
    public ulong FlagsAt(ulong address)
    {
        int run = FirstEndingAfter(address);
        return run != None && _nodes[run].Start <= address ? _nodes[run].Flags : 0;
    }

    /// <summary>Whether every page of [<paramref name="start"/>, <paramref name="end"/>) has exactly <paramref name="flags"/> (zero: a hole).</summary>
    public bool AllEqual(ulong start, ulong end, ulong flags)
    {
        ulong cursor = start;
        while (cursor < end)
        {
            int run = FirstEndingAfter(cursor);
            if (run == None || _nodes[run].Start >= end)
            {
                return flags == 0;
            }

            if ((_nodes[run].Start > cursor && flags != 0) || _nodes[run].Flags != flags)
            {
                return false;
            }

            cursor = _nodes[run].End;
        }

        return true;
    }

    /// <summary>Gives every page of [<paramref name="start"/>, <paramref name="end"/>) <paramref name="flags"/> (zero: a hole).</summary>
    public void Assign(ulong start, ulong end, ulong flags)
    {
        if (start >= end)
        {
            return;
        }

        Split(_root, start, out int below, out int rest);
        Split(rest, end, out int inside, out int above);
        above = CutOverlaps(below, inside, start, end, above);
        Release(inside);
        if (flags != 0)
        {
            above = Join(below, start, end, flags, above);
        }

        _root = Merge(below, above);
        Debug.Assert(IsCoherent(), "runs overlap, are empty, or break the treap's order");
    }

    /// <summary>Clears, in every run of [<paramref name="start"/>, <paramref name="end"/>), the access bits not in <paramref name="keep"/>.</summary>
    public void Narrow(ulong start, ulong end, ulong keep)
    {
        ulong cursor = start;
        while (cursor < end)
        {
            int run = FirstEndingAfter(cursor);
            if (run == None || _nodes[run].Start >= end)
            {
                return;
            }

            ulong from = System.Math.Max(_nodes[run].Start, cursor);
            ulong to = System.Math.Min(_nodes[run].End, end);
            ulong narrowed = _nodes[run].Flags & (keep | ~TranslationEntry.AccessMask);
            if (narrowed != _nodes[run].Flags)
            {
                Assign(from, to, narrowed);
            }

            cursor = to;
        }
    }

    /// <summary>
    /// Trims the runs that reach into [<paramref name="start"/>, <paramref name="end"/>) from below (the last run of
    /// <paramref name="below"/>) or past its end (the last run of <paramref name="inside"/>, or a run of
    /// <paramref name="below"/> covering the whole range), and returns <paramref name="above"/> with the part past
    /// <paramref name="end"/> added as its first run.
    /// </summary>
    private int CutOverlaps(int below, int inside, ulong start, ulong end, int above)
    {
        int last = LastOf(below);
        int reaching = LastOf(inside);
        if (reaching == None)
        {
            reaching = last;
        }

        ulong reachEnd = reaching == None ? 0 : _nodes[reaching].End;
        ulong reachFlags = reaching == None ? 0 : _nodes[reaching].Flags;
        if (last != None && _nodes[last].End > start)
        {
            _nodes[last].End = start;
        }

        return reachEnd > end ? Merge(NewNode(end, reachEnd, reachFlags), above) : above;
    }

    /// <summary>
    /// Adds the run [<paramref name="start"/>, <paramref name="end"/>) with <paramref name="flags"/> between
    /// <paramref name="below"/> and <paramref name="above"/>, coalesced with the run ending at
    /// <paramref name="start"/> and the run starting at <paramref name="end"/> when their flags are equal; returns
    /// the new <paramref name="above"/>.
    /// </summary>
    private int Join(int below, ulong start, ulong end, ulong flags, int above)
    {
        int left = LastOf(below);
        int right = FirstOf(above);
        bool joinsLeft = left != None && _nodes[left].End == start && _nodes[left].Flags == flags;
        bool joinsRight = right != None && _nodes[right].Start == end && _nodes[right].Flags == flags;
        if (joinsLeft && joinsRight)
        {
            _nodes[left].End = _nodes[right].End;
            return RemoveFirst(above);
        }

        if (joinsLeft)
        {
            _nodes[left].End = end;
            return above;
        }

        if (joinsRight)
        {
            // Still the first key of above and above every key of below: the order holds.
            _nodes[right].Start = start;
            return above;
        }

        return Merge(NewNode(start, end, flags), above);
    }

    /// <summary>The run containing <paramref name="address"/>, else the first run after it, else <see cref="None"/>: one descent.</summary>
    private int FirstEndingAfter(ulong address)
    {
        int floor = None;
        int ceiling = None;
        int node = _root;
        while (node != None)
        {
            if (_nodes[node].Start <= address)
            {
                floor = node;
                node = _nodes[node].Right;
            }
            else
            {
                ceiling = node;
                node = _nodes[node].Left;
            }
        }

        return floor != None && _nodes[floor].End > address ? floor : ceiling;
    }

    /// <summary>Splits <paramref name="tree"/> into the runs starting below <paramref name="key"/> and the rest.</summary>
    private void Split(int tree, ulong key, out int below, out int rest)
    {
        if (tree == None)
        {
            below = None;
            rest = None;
        }
        else if (_nodes[tree].Start < key)
        {
            Split(_nodes[tree].Right, key, out int middle, out rest);
            _nodes[tree].Right = middle;
            below = tree;
        }
        else
        {
            Split(_nodes[tree].Left, key, out below, out int middle);
            _nodes[tree].Left = middle;
            rest = tree;
        }
    }

    /// <summary>Joins two treaps, every key of <paramref name="lower"/> below every key of <paramref name="upper"/>.</summary>
    private int Merge(int lower, int upper)
    {
        if (lower == None)
        {
            return upper;
        }

        if (upper == None)
        {
            return lower;
        }

        if (_nodes[lower].Priority > _nodes[upper].Priority)
        {
            _nodes[lower].Right = Merge(_nodes[lower].Right, upper);
            return lower;
        }

        _nodes[upper].Left = Merge(lower, _nodes[upper].Left);
        return upper;
    }

    /// <summary>The run with the lowest address of <paramref name="tree"/>, or <see cref="None"/>.</summary>
    private int FirstOf(int tree)
    {
        while (tree != None && _nodes[tree].Left != None)
        {
            tree = _nodes[tree].Left;
        }

        return tree;
    }

    /// <summary>The run with the highest address of <paramref name="tree"/>, or <see cref="None"/>.</summary>
    private int LastOf(int tree)
    {
        while (tree != None && _nodes[tree].Right != None)
        {
            tree = _nodes[tree].Right;
        }

        return tree;
    }

    /// <summary><paramref name="tree"/> without its first run, which is freed.</summary>
    private int RemoveFirst(int tree)
    {
        if (_nodes[tree].Left == None)
        {
            int right = _nodes[tree].Right;
            Free(tree);
            return right;
        }

        _nodes[tree].Left = RemoveFirst(_nodes[tree].Left);
        return tree;
    }

    /// <summary>Frees every node of <paramref name="tree"/>.</summary>
    private void Release(int tree)
    {
        if (tree != None)
        {
            Release(_nodes[tree].Left);
            Release(_nodes[tree].Right);
            Free(tree);
        }
    }

    /// <summary>A node for the run [<paramref name="start"/>, <paramref name="end"/>), from the free list or a new slot (growing the array when full).</summary>
    private int NewNode(ulong start, ulong end, ulong flags)
    {
        int node = _free;
        if (node != None)
        {
            _free = _nodes[node].Right;
        }
        else
        {
            if (_used == _nodes.Length)
            {
                System.Array.Resize(ref _nodes, _nodes.Length * 2);
            }

            node = _used++;
        }

        _priorities ^= _priorities << 13;
        _priorities ^= _priorities >> 17;
        _priorities ^= _priorities << 5;
        _nodes[node] = new Node { Start = start, End = end, Flags = flags, Left = None, Right = None, Priority = _priorities };
        Count++;
        return node;
    }

    /// <summary>Puts <paramref name="node"/> on the free list.</summary>
    private void Free(int node)
    {
        _nodes[node] = new Node { Left = None, Right = _free };
        _free = node;
        Count--;
    }

    /// <summary>Whether the runs are non-empty, disjoint, flagged, in key order and in heap order of priority.</summary>
    private bool IsCoherent()
    {
        ulong previousEnd = 0;
        int runs = 0;
        return IsCoherent(_root, uint.MaxValue, ref previousEnd, ref runs) && runs == Count;
    }

    /// <summary>The in-order part of <see cref="IsCoherent()"/> for one subtree.</summary>
    private bool IsCoherent(int tree, uint parentPriority, ref ulong previousEnd, ref int runs)
    {
        if (tree == None)
        {
            return true;
        }

        Node node = _nodes[tree];
        if (!IsCoherent(node.Left, node.Priority, ref previousEnd, ref runs)
            || node.Start >= node.End || node.Start < previousEnd || node.Flags == 0 || node.Priority > parentPriority)
        {
            return false;
        }

        previousEnd = node.End;
        runs++;
        return IsCoherent(node.Right, node.Priority, ref previousEnd, ref runs);
    }

    /// <summary>One run, or a free slot.</summary>
    private struct Node
    {
        /// <summary>The first guest address: the key.</summary>
        public ulong Start;

        /// <summary>The end guest address.</summary>
        public ulong End;

        /// <summary>The <see cref="TranslationEntry"/> flags of each page, with <see cref="TranslationEntry.Present"/>.</summary>
        public ulong Flags;

        /// <summary>The subtree of lower keys.</summary>
        public int Left;

        /// <summary>The subtree of higher keys; in a free slot, the next free slot.</summary>
        public int Right;

        /// <summary>The heap priority: no node's is above its parent's.</summary>
        public uint Priority;
    }
}
