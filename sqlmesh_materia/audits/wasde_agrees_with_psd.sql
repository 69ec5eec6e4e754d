AUDIT (
  name wasde_agrees_with_psd
);

/* WASDE and PSD of the same month tell the same story: each pair of cleaned.cln_wasde_psd
   (world and U.S. production, ending stocks and domestic use, in PSD's unit) is within
   the rounding of the two publications. A pair further apart blocks the publish and names
   both values: one of the two files is not what it claims to be (a release of another
   month, a broken download USDA will correct). */
SELECT
  *
FROM @this_model
WHERE
  ABS(difference) > tolerance