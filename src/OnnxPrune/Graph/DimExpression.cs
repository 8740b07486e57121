using System.Globalization;
using System.Text;

namespace OnnxPrune.Graph;

/// <summary>
/// Symbolic dims computed from other dims (a Conv window over a symbolic width, a Shape element times a constant):
/// a <see cref="Dim"/> whose <see cref="Dim.Param"/> is a canonical expression over symbolic names, written
/// <c>({W}+-3)</c>, <c>(({W}+1)/2)</c>, <c>({H}*{W})</c>. Names are in braces, operators are <c>+ * /</c> (floor
/// division by a positive constant) and sub-expressions are parenthesized, so the same computation always gives the
/// same string: two dims computed the same way from the same inputs compare equal, which is what the analyser needs to
/// pair run-time sizes (Reshape targets computed from Shape). <see cref="DimBindings.Resolve(Dim)"/> evaluates them.
/// </summary>
public static class DimExpression
{
    /// <summary>True when <paramref name="param"/> is an expression written by this class (not a plain dim name).</summary>
    public static bool IsExpression(string? param) => param is { Length: > 2 } && param[0] == '(' && param[^1] == ')';

    /// <summary><paramref name="a"/> + <paramref name="c"/> (constants folded; + 0 is <paramref name="a"/>).</summary>
    public static Dim Add(Dim a, long c) =>
        c == 0 ? a : a.Value is long v ? new Dim(v + c) : Of(Node.Add(Parse(a), new Node.Num(c)));

    /// <summary><paramref name="a"/> + <paramref name="b"/> (unknown when either is unknown).</summary>
    public static Dim Add(Dim a, Dim b) =>
        a.Value is long x ? Add(b, x) : b.Value is long y ? Add(a, y) : Of(Node.Add(Parse(a), Parse(b)));

    /// <summary><paramref name="a"/> · <paramref name="c"/>.</summary>
    public static Dim Mul(Dim a, long c) =>
        c == 1 ? a : a.Value is long v ? new Dim(v * c) : c == 0 ? new Dim(0) : Of(Node.Mul(Parse(a), new Node.Num(c)));

    /// <summary><paramref name="a"/> · <paramref name="b"/>.</summary>
    public static Dim Mul(Dim a, Dim b) =>
        a.Value is long x ? Mul(b, x) : b.Value is long y ? Mul(a, y) : Of(Node.Mul(Parse(a), Parse(b)));

    /// <summary>⌊<paramref name="a"/> / <paramref name="c"/>⌋ for a positive <paramref name="c"/> (unknown otherwise).</summary>
    public static Dim FloorDiv(Dim a, long c) =>
        c <= 0 ? Dim.Unknown : c == 1 ? a : a.Value is long v ? new Dim((long)Math.Floor((double)v / c)) : Of(Node.Div(Parse(a), c));

    /// <summary>The value of <paramref name="param"/> (a name or an expression) under <paramref name="dims"/>, or null
    /// when a name is unbound or the text is not an expression of this class.</summary>
    public static long? Evaluate(string param, IReadOnlyDictionary<string, long> dims)
    {
        if (!IsExpression(param)) return dims.TryGetValue(param, out var v) ? v : null;
        int pos = 0;
        var node = ParseText(param, ref pos);
        return node is null || pos != param.Length ? null : node.Eval(dims);
    }

    private static Dim Of(Node? n) => n switch { null => Dim.Unknown, Node.Num k => new Dim(k.Value), Node.Sym y => new Dim(y.Name), _ => new Dim(n.ToString()) };

    private static Node? Parse(Dim d)
    {
        if (d.Value is long v) return new Node.Num(v);
        if (d.Param is not { } p) return null;
        if (!IsExpression(p)) return new Node.Sym(p);
        int pos = 0;
        var n = ParseText(p, ref pos);
        return pos == p.Length ? n : null;
    }

    // term := NUM | '{' NAME '}' | '(' term (op term)+ ')' with op one of + * / (/ only by a number)
    private static Node? ParseText(string s, ref int pos)
    {
        if (pos >= s.Length) return null;
        char c = s[pos];
        if (c == '{')
        {
            int end = s.IndexOf('}', pos + 1);
            if (end < 0) return null;
            var name = s.Substring(pos + 1, end - pos - 1);
            pos = end + 1;
            return new Node.Sym(name);
        }
        if (c == '-' || char.IsAsciiDigit(c))
        {
            int start = pos++;
            while (pos < s.Length && char.IsAsciiDigit(s[pos])) pos++;
            return long.TryParse(s.AsSpan(start, pos - start), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var v) ? new Node.Num(v) : null;
        }
        if (c != '(') return null;
        pos++;
        var left = ParseText(s, ref pos);
        if (left is null || pos >= s.Length) return null;
        char op = s[pos++];
        var right = ParseText(s, ref pos);
        if (right is null || pos >= s.Length || s[pos] != ')') return null;
        pos++;
        return op switch
        {
            '+' => new Node.Bin('+', left, right),
            '*' => new Node.Bin('*', left, right),
            '/' when right is Node.Num { Value: > 0 } => new Node.Bin('/', left, right),
            _ => null,
        };
    }

    private abstract record Node
    {
        public abstract long? Eval(IReadOnlyDictionary<string, long> dims);

        public sealed record Num(long Value) : Node
        {
            public override long? Eval(IReadOnlyDictionary<string, long> dims) => Value;
            public override string ToString() => Value.ToString(CultureInfo.InvariantCulture);
        }

        public sealed record Sym(string Name) : Node
        {
            public override long? Eval(IReadOnlyDictionary<string, long> dims) =>
                dims.TryGetValue(Name, out var v) ? v : IsExpression(Name) ? Evaluate(Name, dims) : null;
            public override string ToString() => "{" + Name + "}";
        }

        public sealed record Bin(char Op, Node Left, Node Right) : Node
        {
            public override long? Eval(IReadOnlyDictionary<string, long> dims)
            {
                if (Left.Eval(dims) is not long a || Right.Eval(dims) is not long b) return null;
                return Op switch
                {
                    '+' => a + b,
                    '*' => a * b,
                    _ => b > 0 ? (long)Math.Floor((double)a / b) : null,
                };
            }

            public override string ToString() => new StringBuilder().Append('(').Append(Left).Append(Op).Append(Right).Append(')').ToString();
        }

        // Constant folding keeps the canonical form: (x + c1) + c2 → x + (c1 + c2), (x · c1) · c2 → x · (c1 · c2).
        public static Node? Add(Node? a, Node? b)
        {
            if (a is null || b is null) return null;
            if (a is Num x && b is Num y) return new Num(x.Value + y.Value);
            if (a is Num) (a, b) = (b, a);
            if (b is Num { Value: 0 }) return a;
            if (a is Bin { Op: '+', Right: Num c1 } inner && b is Num c2) return Add(inner.Left, new Num(c1.Value + c2.Value));
            return new Bin('+', a, b);
        }

        public static Node? Mul(Node? a, Node? b)
        {
            if (a is null || b is null) return null;
            if (a is Num x && b is Num y) return new Num(x.Value * y.Value);
            if (a is Num) (a, b) = (b, a);
            if (b is Num { Value: 1 }) return a;
            if (a is Bin { Op: '*', Right: Num c1 } inner && b is Num c2) return Mul(inner.Left, new Num(c1.Value * c2.Value));
            return new Bin('*', a, b);
        }

        public static Node? Div(Node? a, long c)
        {
            if (a is null) return null;
            if (c == 1) return a;
            // (x · k·c) / c → x · k
            if (a is Bin { Op: '*', Right: Num m } inner && m.Value % c == 0) return Mul(inner.Left, new Num(m.Value / c));
            return new Bin('/', a, new Num(c));
        }
    }
}
