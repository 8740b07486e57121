namespace OnnxPrune.Pruning.Importance;

/// <summary>How a criterion makes the scores of different groups comparable for a global ranking.</summary>
public enum ScoreNormalization
{
    /// <summary>Raw scores (only meaningful for per-group budgets).</summary>
    None,

    /// <summary>
    /// Divide each group's scores by the group's mean score: <c>s'ᵤ = sᵤ / ((1/n)·Σᵥ sᵥ)</c> (zeros stay zeros when
    /// the mean is 0). The default: a unit's score then says how it compares with the other units of its own
    /// layer, independent of fan-in (which scales L1 by k²·Cin) and of the layer's weight scale (which
    /// initialisation by 1/√fan-in and BN folding set per layer). This is Torch-Pruning's default
    /// ("mean" normaliser); the trade-off is that a whole layer that is uniformly weak is not detected.
    /// </summary>
    Mean,

    /// <summary>
    /// Divide by the number of coupled elements per unit: L1 becomes the mean |w| of the unit's slices and L2 the
    /// root-mean-square <c>√(Σw²/m)</c>. Removes the fan-in bias but keeps per-layer scale differences.
    /// </summary>
    ElementCount,
}
